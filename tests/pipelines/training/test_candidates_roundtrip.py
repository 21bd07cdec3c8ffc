"""Every configured candidate fits, and predicts the same probabilities after an MLflow round trip.

"Configured": conf/base's candidates, the networks conf/deep adds, and the imdb benchmark's
candidates that hold a network (conf/bench_imdb: the region CNN and its vote with NB-SVM).
Networks train for one epoch here: the round trip is about the estimator, not its quality.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from sklearn.model_selection import ParameterGrid

from sentiment_mlops.mlflow_registry import log_sklearn_model
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.candidates import plan_candidate
from sentiment_mlops.pipelines.training.search import raw_text_model
from tests.pipelines.training.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration


def _configured(env: str, key: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf" / env / "parameters_training.yml").read_text())[
        key
    ]


NETWORKS = _configured("deep", "extra_candidates")
BENCH_IMDB_NETWORKS = {
    f"bench_imdb/{name}": spec
    for name, spec in _configured("bench_imdb", "candidates").items()
    if "RegionCNN" in str(spec)
}
CANDIDATES = {**_configured("base", "candidates"), **NETWORKS, **BENCH_IMDB_NETWORKS}
HOLD_A_NETWORK = {*NETWORKS, *BENCH_IMDB_NETWORKS}


@pytest.fixture(scope="module")
def model_store(tmp_path_factory) -> Iterator[str]:
    """One SQLite MLflow store for all candidates (creating a store takes seconds); current
    while this module runs, so that later tests resolve ``models:/`` URIs as usual again."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('roundtrip') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


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
    plan = plan_candidate(
        CANDIDATES[name], feature_pipeline, feature_grid, base_parameters["search"], name=name
    )
    # One grid point, fitted directly: the round trip is about the estimator, not the search.
    pipeline = plan.pipeline.set_params(**ParameterGrid(plan.grid)[0])
    # One epoch for a network anywhere in the candidate, a vote's members included.
    pipeline.set_params(**{key: 1 for key in pipeline.get_params() if key.endswith("max_epochs")})
    pipeline.fit(train["clean_text"], train["label"].to_numpy(dtype=object))
    model = raw_text_model(base_parameters["cleaning"], pipeline)
    expected = model.predict_proba(validation["text"])

    with mlflow.start_run():
        info = log_sklearn_model(model)
    loaded = mlflow.sklearn.load_model(info.model_uri)

    requirements = Path(mlflow.pyfunc.get_model_dependencies(info.model_uri)).read_text()
    # A network pins the deep extra; a classical model stays installable without torch.
    assert ("torch==" in requirements) == (name in HOLD_A_NETWORK), requirements
    assert list(loaded.classes_) == ["negative", "neutral", "positive"]
    np.testing.assert_array_equal(loaded.predict_proba(validation["text"]), expected)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-6)  # XGBoost: float32
