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
from sklearn.pipeline import Pipeline

from sentiment_mlops.models import BiLSTMClassifier, TransformerEncoderClassifier
from sentiment_mlops.registry import log_sklearn_model
from sentiment_mlops.text_cleaning import TextCleaner

SMALL = {
    "bilstm": (BiLSTMClassifier, {"embedding_dim": 48, "hidden_size": 48}),
    "bilstm_lexicon": (
        BiLSTMClassifier,
        {"embedding_dim": 48, "hidden_size": 48, "lexicon": "vader"},
    ),
    "transformer": (
        TransformerEncoderClassifier,
        {"d_model": 48, "nhead": 2, "num_layers": 1, "dim_feedforward": 96, "vocab_size": 3000},
    ),
}


def small_model(name: str, **params) -> Pipeline:
    """The raw-text contract: cleaner -> network, with test-sized settings."""
    estimator, shape = SMALL[name]
    options = {"max_epochs": 3, "batch_size": 32, "verbose": False, **shape, **params}
    return Pipeline([("cleaner", TextCleaner()), ("classifier", estimator(**options))])


def majority_macro_f1(train_labels: list[str], test_labels: list[str]) -> float:
    """Macro-F1 of always predicting the most frequent training class."""
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros(len(train_labels)), train_labels)
    return f1_score(test_labels, dummy.predict(np.zeros(len(test_labels))), average="macro")


def probabilities_from_fresh_process(
    models: dict[str, object], texts: list[str], tmp_path: Path, tracking_uri: str
) -> dict[str, np.ndarray]:
    """Log each model the project's way (``registry.log_sklearn_model``) to the MLflow store at
    ``tracking_uri`` (made current by the caller), load them all in one new Python process, and
    return that process's probabilities for ``texts``."""
    uris = {}
    for name, model in models.items():
        with mlflow.start_run(run_name=name):
            uris[name] = log_sklearn_model(model).model_uri
    (tmp_path / "request.json").write_text(json.dumps({"uris": uris, "texts": texts}))
    script = (
        "import json, sys, mlflow, numpy as np\n"
        "request = json.load(open(sys.argv[1]))\n"
        "np.savez(sys.argv[2], **{name: mlflow.sklearn.load_model(uri).predict_proba("
        "request['texts']) for name, uri in request['uris'].items()})\n"
    )
    output = tmp_path / "probabilities.npz"
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "request.json"), str(output)],
        check=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        timeout=300,
    )
    with np.load(output) as loaded:
        return {name: loaded[name] for name in models}
