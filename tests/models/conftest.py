"""Fixtures for the deep models: small airline splits, and no network access at all."""

from __future__ import annotations

import os

# Read by huggingface_hub when it is imported: a test that tried the hub would fail, not hang.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from sentiment_mlops.models import TransformerFineTuneClassifier  # noqa: E402
from sentiment_mlops.text_cleaning import TextCleaner  # noqa: E402
from tests.models.helpers import SMALL, small_model  # noqa: E402


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
