"""Small airline splits sampled at test time from the data mirror, through the real nodes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from sentiment_mlops.datasets.sentiment_source_dataset import SourceSpec, canonical_table
from sentiment_mlops.pipelines.data_processing.nodes import (
    clean_texts,
    drop_duplicate_texts,
    split_dataset,
)
from tests.conftest import source_declaration

PROJECT_ROOT = Path(__file__).resolve().parents[3]
AIRLINE_FILE = "twitter_airline_sentiment/Tweets.csv"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[str]:
    """The test module's own MLflow store, current while its tests run (later tests resolve
    ``models:/`` URIs through the default again)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("tests")
    yield uri
    mlflow.set_tracking_uri(None)


def _parameters(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf" / "base" / name).read_text())


@pytest.fixture(scope="session")
def airline_splits() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test splits of a stratified 900-tweet sample of airline."""
    mirror = os.environ.get("SENTIMENT_DATA_MIRROR", str(PROJECT_ROOT.parent / "shared" / "data"))
    path = Path(mirror) / AIRLINE_FILE
    if not path.is_file():
        pytest.fail(f"{path} not found: set SENTIMENT_DATA_MIRROR to the shared data directory")
    raw = pd.read_csv(path)
    sample = raw.groupby("airline_sentiment", group_keys=False).sample(
        n=300, random_state=0
    )  # balanced classes keep 2-fold CV meaningful on a few hundred rows
    data_params = _parameters("parameters_data_processing.yml")
    spec = SourceSpec.from_config("airline", source_declaration("airline"))
    canonical = canonical_table(sample.reset_index(drop=True), spec)
    cleaned = clean_texts(canonical, data_params["cleaning"])
    return split_dataset(drop_duplicate_texts(cleaned), data_params["split"])


@pytest.fixture(scope="session")
def base_parameters() -> dict:
    """conf/base parameters of the feature_engineering and training pipelines."""
    return {
        **_parameters("parameters_feature_engineering.yml"),
        **_parameters("parameters_training.yml"),
        "cleaning": _parameters("parameters_data_processing.yml")["cleaning"],
    }
