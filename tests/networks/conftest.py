"""Fixtures and checks for the deep-model tests: small airline splits, small networks, no
network access at all."""

from __future__ import annotations

import os

# Read by huggingface_hub when it is imported: a test that tried the hub would fail, not hang.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from sentiment_mlops.mlflow_registry import log_sklearn_model  # noqa: E402
from sentiment_mlops.networks import (  # noqa: E402
    BiLSTMClassifier,
    RegionCNNClassifier,
    TransformerEncoderClassifier,
    TransformerFineTuneClassifier,
)
from sentiment_mlops.text_cleaning import TextCleaner  # noqa: E402


@pytest.fixture(scope="session")
def airline_texts(airline_sample: pd.DataFrame) -> dict[str, list[str]]:
    """Raw airline tweets split 75 / 25, stratified: ``train_*`` to fit, ``test_*`` held out."""
    train, test = train_test_split(
        airline_sample,
        test_size=0.25,
        stratify=airline_sample["airline_sentiment"],
        random_state=0,
    )
    return {
        "train_text": train["text"].tolist(),
        "train_label": train["airline_sentiment"].tolist(),
        "test_text": test["text"].tolist(),
        "test_label": test["airline_sentiment"].tolist(),
    }


@pytest.fixture(scope="session")
def fitted_networks(airline_texts) -> dict[str, Pipeline]:
    """Each network fitted once on the training tweets, shared by the tests that read it."""
    return {
        name: small_model(name, learning_rate=3e-3).fit(
            airline_texts["train_text"], airline_texts["train_label"]
        )
        for name in sorted(SMALL)
    }


TINY = {"vocab_size": 2000, "max_length": 48, "batch_size": 32, "learning_rate": 2e-3}


@pytest.fixture(scope="session")
def fine_tuned(airline_texts) -> Pipeline:
    model = Pipeline(
        [
            ("cleaner", TextCleaner()),
            ("classifier", TransformerFineTuneClassifier(max_epochs=3, verbose=False, **TINY)),
        ]
    )
    return model.fit(airline_texts["train_text"], airline_texts["train_label"])


# ---- Checks shared by the deep-model tests ----

SMALL = {
    "bilstm": (BiLSTMClassifier, {"embedding_dim": 48, "hidden_size": 48}),
    "bilstm_lexicon": (
        BiLSTMClassifier,
        {"embedding_dim": 48, "hidden_size": 48, "lexicon": "vader"},
    ),
    "region_cnn": (RegionCNNClassifier, {"embedding_dim": 64}),
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
    """Log each model the project's way (``mlflow_registry.log_sklearn_model``) to the MLflow store at
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
