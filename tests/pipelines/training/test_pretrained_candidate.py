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


def _tune(name, airline_splits, base_parameters):
    """conf/pretrained's candidate ``name`` through the training nodes, 2-fold CV."""
    candidate = yaml.safe_load(CONF.read_text())["extra_candidates"][name]
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


@pytest.fixture(scope="module")
def tuned(store, airline_splits, base_parameters):
    return _tune("minilm_logreg", airline_splits, base_parameters)


def test_the_candidate_is_searched_and_scored_like_the_others(tuned):
    name, model, row = tuned
    assert name == "minilm_logreg"
    assert [step for step, _ in model.steps] == ["cleaner", "vectorizer", "sampler", "classifier"]
    assert model.named_steps["cleaner"] == "passthrough"  # the encoder reads the text as written
    assert row["grid_size"] == 4 and row["cv_folds"] == 2
    assert 0.5 < row["cv_f1_macro_mean"] <= 1
    assert 0.5 < row["val_macro_f1"] <= 1  # the majority class scores ~0.2 here
    assert json.loads(row["best_params"])["classifier__classifier__C"] in {0.3, 1.0, 3.0, 10.0}


def test_the_candidate_has_its_nested_run(tuned, store):
    _, _, row = tuned
    run = MlflowClient(store).get_run(row["mlflow_run_id"])
    assert run.data.tags["candidate"] == "minilm_logreg"
    assert run.data.params["input"] == "raw_text"


def test_the_fitted_model_round_trips_into_a_fresh_process(tuned, airline_splits, store, tmp_path):
    _, model, _ = tuned
    texts = airline_splits[2]["text"].tolist()[:40]
    loaded = probabilities_from_fresh_process({"minilm": model}, texts, tmp_path, store)
    np.testing.assert_allclose(loaded["minilm"], model.predict_proba(texts), atol=1e-6)


def test_embeddings_join_the_ngrams_and_vader_as_one_more_block(
    store, airline_splits, base_parameters
):
    name, model, row = _tune("minilm_ngrams_svm", airline_splits, base_parameters)
    vectorizer = model.named_steps["vectorizer"]
    assert [branch for branch, _ in vectorizer.transformer_list] == [
        "word",
        "char",
        "lexicon",
        "embeddings",
    ]
    texts = airline_splits[2]["text"].tolist()[:10]
    cleaned = model.named_steps["cleaner"].transform(texts)
    features = vectorizer.transform(cleaned)
    embeddings = vectorizer.named_transformers["embeddings"].transform(cleaned)
    # The last 384 columns are the sentence embeddings of the cleaned texts, unit length.
    np.testing.assert_allclose(features[:, -384:].toarray(), embeddings, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert row["grid_size"] == 2 and 0.5 < row["val_macro_f1"] <= 1
