"""Checks shared by the deep-model tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import f1_score


def majority_macro_f1(train_labels: list[str], test_labels: list[str]) -> float:
    """Macro-F1 of always predicting the most frequent training class."""
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros(len(train_labels)), train_labels)
    return f1_score(test_labels, dummy.predict(np.zeros(len(test_labels))), average="macro")


def probabilities_from_fresh_process(
    model, texts: list[str], tmp_path: Path, tracking_uri: str
) -> np.ndarray:
    """Log ``model`` to the MLflow store at ``tracking_uri`` (made current by the caller), load
    it in a new Python process, and return that process's probabilities for ``texts``."""
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",  # skops (the default) refuses custom classes
            pip_requirements=["torch==2.13.0"],
        )
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = (
        "import json, sys, mlflow, numpy as np\n"
        "model = mlflow.sklearn.load_model(sys.argv[1])\n"
        "texts = json.load(open(sys.argv[2]))\n"
        "np.save(sys.argv[3], model.predict_proba(texts))\n"
    )
    output = tmp_path / "probabilities.npy"
    subprocess.run(
        [sys.executable, "-c", script, info.model_uri, str(tmp_path / "texts.json"), str(output)],
        check=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        timeout=300,
    )
    return np.load(output)
