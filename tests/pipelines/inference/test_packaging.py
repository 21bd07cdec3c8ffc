"""The default `kedro run` really logs and registers the packaged model (kedro-mlflow #690),
also when the selected model is a network (torch inside the package)."""

from __future__ import annotations

import pickle
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.mlflow_registry import locked_requirements
from sentiment_mlops.pipeline_registry import register_pipelines
from sentiment_mlops.pipelines.inference.nodes import predict_sentiment
from tests.support.projects import PROJECT_ROOT, TrainedProject, train_project


@pytest.mark.unit
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


@pytest.mark.integration
def test_packaged_model_carries_its_code_and_the_locked_requirements(trained_model, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
        local = Path(
            mlflow.artifacts.download_artifacts(
                f"models:/sentiment/{trained_model.version}", dst_path=str(tmp_path)
            )
        )
    assert (local / "code/sentiment_mlops/estimators.py").is_file()
    requirements = (local / "requirements.txt").read_text().split()
    assert requirements == locked_requirements(PROJECT_ROOT / "requirements.lock")
    # The project itself is code in the model, not a requirement no index can satisfy.
    assert not [
        line for line in requirements if line.startswith(("sentiment-mlops", "sentiment_mlops"))
    ]


# The only candidate is a tiny BiLSTM, so the run selects it: the packaged model holds torch.
NETWORK_ONLY = {
    "candidates": {
        "bilstm": {
            "estimator": "sentiment_mlops.networks.BiLSTMClassifier",
            "input": "text",
            "search": {"cv_folds": 0},
            "params": {"embedding_dim": 32, "hidden_size": 32, "max_epochs": 2, "verbose": False},
        }
    }
}


@pytest.fixture(scope="module")
def network_model(tmp_path_factory, source_samples) -> TrainedProject:
    airline = {"airline": source_samples["airline"]}
    return train_project(tmp_path_factory.mktemp("network_model"), airline, NETWORK_ONLY)


@pytest.mark.integration
def test_packaged_network_loads_and_predicts_the_same_in_a_fresh_process(network_model, tmp_path):
    workdir = network_model.workdir
    comparison = pd.read_csv(workdir / "data/08_reporting/model_comparison.csv")
    assert list(comparison["model"]) == ["bilstm"]
    with (workdir / "data/06_models/calibrated_sentiment_model.pkl").open("rb") as file:
        calibrated = pickle.load(file)  # noqa: S301 - written by the run above
    texts = pd.read_parquet(workdir / "data/05_model_input/test_split.parquet")["text"].tolist()
    texts = [*texts[:40], "ok", "&lt;3 @united :)", "NOT good. not GOOD!!!"]

    packaged = network_model.packaged_predictions(texts, tmp_path)
    expected = predict_sentiment(calibrated, pd.DataFrame({"text": texts}))
    pd.testing.assert_frame_equal(packaged, expected, check_exact=False, rtol=0, atol=1e-9)

    uri = f"models:/sentiment/{network_model.version}"
    with pytest.MonkeyPatch.context() as patch:  # models:/ resolves through the environment
        patch.setenv("MLFLOW_TRACKING_URI", network_model.tracking_uri)
        requirements = Path(mlflow.pyfunc.get_model_dependencies(uri)).read_text()
        served = ServedModel.load(uri)
    assert "torch" in requirements, requirements
    # The API serves it with the same numbers, and says it cannot explain a network.
    # Compared on the same batch: a network pads a batch to its longest text, which moves
    # float32 scores by ~1e-8, so the 43-text batch above is not the reference for 5 texts.
    answer = served.predict(texts[:5]).to_frame()
    alone = predict_sentiment(calibrated, pd.DataFrame({"text": texts[:5]}))
    pd.testing.assert_frame_equal(answer, alone, check_exact=False, rtol=0, atol=1e-9)
    explanation = served.explain(texts[0], answer.loc[0, "label"], top_k=5)
    assert not explanation.available
    assert "BiLSTMClassifier is not a linear model" in explanation.reason
