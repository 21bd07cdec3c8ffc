"""Every configured candidate fits, and predicts the same probabilities after an MLflow round trip."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import yaml
from sklearn.model_selection import ParameterGrid

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.nodes import _raw_text_model, build_search
from sentiment_mlops.registry import log_sklearn_model
from tests.pipelines.training.conftest import PROJECT_ROOT

CANDIDATES = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_training.yml").read_text())[
    "candidates"
]


@pytest.fixture(scope="module")
def model_store(tmp_path_factory) -> str:
    """One SQLite MLflow store for all candidates (creating a store takes seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('roundtrip') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_candidate_round_trips_through_mlflow(name, airline_splits, base_parameters, model_store):
    mlflow.set_tracking_uri(model_store)
    # Other tests leave an active experiment id behind that this fresh store lacks.
    mlflow.set_experiment("tests")
    train, validation, _ = airline_splits
    feature_pipeline = build_feature_pipeline(
        base_parameters["vectorizer"], base_parameters["imbalance"]
    )
    feature_grid = build_feature_grid(
        base_parameters["feature_search"], base_parameters["imbalance"]
    )
    search = build_search(
        CANDIDATES[name],
        feature_pipeline,
        feature_grid,
        {**base_parameters["search"], "cv_folds": 2},
    )
    # One grid point, fitted directly: the round trip is about the estimator, not the search.
    pipeline = search.estimator.set_params(**ParameterGrid(search.param_grid)[0])
    pipeline.fit(train["clean_text"], train["label"].to_numpy(dtype=object))
    model = _raw_text_model(base_parameters["cleaning"], pipeline)
    expected = model.predict_proba(validation["text"])

    with mlflow.start_run():
        info = log_sklearn_model(model)
    loaded = mlflow.sklearn.load_model(info.model_uri)

    assert list(loaded.classes_) == ["negative", "neutral", "positive"]
    np.testing.assert_array_equal(loaded.predict_proba(validation["text"]), expected)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-6)  # XGBoost: float32
