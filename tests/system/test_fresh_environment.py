"""The registered model is self-contained: MLflow builds a fresh environment from the model's own
requirements (the lock) with uv, with no sentiment-mlops installed, and the model predicts
there what the service predicts in process.

The environment is built offline (``UV_OFFLINE=1``) from uv's cache, which ``make setup``
filled from the same lock: the test never reaches the network.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sentiment_mlops.api.model import ServedModel
from tests.support.projects import VENV_BIN, TrainedProject, run_command

pytestmark = pytest.mark.system

BUILD_TIMEOUT_S = 600


def test_registered_model_predicts_the_same_in_a_fresh_environment(
    trained_model: TrainedProject, airline_sample: pd.DataFrame, tmp_path, monkeypatch
) -> None:
    uri = f"models:/sentiment/{trained_model.version}"
    texts = airline_sample["text"].head(50).tolist()
    instances, output = tmp_path / "instances.csv", tmp_path / "predictions.json"
    pd.DataFrame({"text": texts}).to_csv(instances, index=False)
    env = trained_model.env(UV_OFFLINE="1")
    command = [VENV_BIN / "mlflow", "models", "predict", "--model-uri", uri]
    command += ["--input-path", instances, "--content-type", "csv", "--output-path", output]
    predicted = run_command(
        [*command, "--env-manager", "uv"], tmp_path, env, timeout=BUILD_TIMEOUT_S
    )
    assert predicted.returncode == 0, predicted.stderr[-5000:]
    # MLflow built a new environment (in a temporary root it removes afterwards) from the
    # model's requirements, which name no sentiment-mlops: the code came with the model.
    assert "Creating a new environment" in predicted.stderr and "using uv" in predicted.stderr

    fresh = pd.DataFrame(json.loads(output.read_text())["predictions"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
    served = ServedModel.load(uri).predict(texts)
    assert fresh["label"].tolist() == served.labels.tolist()
    for index, name in enumerate(served.classes):
        np.testing.assert_allclose(fresh[name], served.probabilities[:, index], rtol=1e-9)
