"""The default `kedro run` really logs and registers the packaged model (kedro-mlflow #690)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from sentiment_mlops.pipeline_registry import register_pipelines


def test_default_pipeline_stays_a_pipeline_ml():
    pipelines = register_pipelines()
    default = pipelines["__default__"]
    assert type(default).__name__ == "PipelineML"  # a plain Pipeline logs nothing (#690)
    assert default.input_name == "instances"
    assert set(default.inference.inputs()) == {"instances", "calibrated_sentiment_model"}
    assert set(pipelines["inference"].outputs()) == {"predictions"}
    # Batch scoring runs the same nodes on the registry's champion, not the local file.
    assert set(pipelines["inference"].inputs()) == {"instances", "champion_model"}


@pytest.mark.integration
def test_training_run_logs_and_registers_the_kedro_pipeline_model(trained_model):
    client = MlflowClient(tracking_uri=trained_model.tracking_uri)
    version = client.get_model_version("sentiment", trained_model.version)
    assert version.run_id == trained_model.run_id
    assert version.status == "READY"
    with pytest.MonkeyPatch.context() as patch:  # models:/ resolves through the environment
        patch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
        info = mlflow.models.get_model_info(f"models:/sentiment/{trained_model.version}")
    assert info.flavors["python_function"]["loader_module"] == "mlflow.pyfunc.model"
    assert "calibrated_sentiment_model" in info.flavors["python_function"]["artifacts"]
    assert info.signature.inputs.input_names() == ["text"]
    assert info.saved_input_example_info is not None
