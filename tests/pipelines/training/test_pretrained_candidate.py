"""conf/pretrained's candidate, as written there, goes through the model comparison's own nodes
on a small airline sample with the real all-MiniLM-L6-v2 weights: cross-validated, scored on
validation, logged in its nested MLflow run, and the fitted raw-text model loads in a fresh
process with the same probabilities."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.nodes import check_candidate, tune_candidate
from tests.networks.conftest import probabilities_from_fresh_process
from tests.support.projects import PROJECT_ROOT

pytestmark = pytest.mark.integration

CONF = PROJECT_ROOT / "conf" / "pretrained" / "parameters_training.yml"


@pytest.fixture(scope="module")
def tuned(store, airline_splits, base_parameters):
    ((name, candidate),) = yaml.safe_load(CONF.read_text())["extra_candidates"].items()
    train, validation, _ = airline_splits
    imbalance = base_parameters["imbalance"]
    plan = check_candidate(
        candidate,
        build_feature_pipeline(base_parameters["vectorizer"], imbalance),
        build_feature_grid(base_parameters["feature_search"], imbalance),
        # 2 folds in this process (the default search runs its fits in 2 worker processes)
        {**base_parameters["search"], "cv_folds": 2, "n_jobs": 1},
        imbalance,
        name=name,
    )
    with mlflow.start_run(run_name="training"):
        model, row = tune_candidate(plan, train, validation, base_parameters["cleaning"])
    return name, model, row


def test_the_candidate_is_searched_and_scored_like_the_others(tuned):
    name, model, row = tuned
    assert name == "minilm_logreg"
    assert [step for step, _ in model.steps] == ["cleaner", "vectorizer", "sampler", "classifier"]
    assert row["grid_size"] == 4 and row["cv_folds"] == 2
    assert 0.5 < row["cv_f1_macro_mean"] <= 1
    assert 0.5 < row["val_macro_f1"] <= 1  # the majority class scores ~0.2 here
    assert json.loads(row["best_params"])["classifier__classifier__C"] in {0.3, 1.0, 3.0, 10.0}


def test_the_candidate_has_its_nested_run(tuned, store):
    _, _, row = tuned
    run = MlflowClient(store).get_run(row["mlflow_run_id"])
    assert run.data.tags["candidate"] == "minilm_logreg"
    assert run.data.params["input"] == "text"


def test_the_fitted_model_round_trips_into_a_fresh_process(tuned, airline_splits, store, tmp_path):
    _, model, _ = tuned
    texts = airline_splits[2]["text"].tolist()[:40]
    loaded = probabilities_from_fresh_process({"minilm": model}, texts, tmp_path, store)
    np.testing.assert_allclose(loaded["minilm"], model.predict_proba(texts), atol=1e-6)
