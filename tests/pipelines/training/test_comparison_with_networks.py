"""Networks join the model comparison through the same code as the classical candidates.

On the small airline splits, the training nodes compare a cross-validated logistic
regression with two tiny BiLSTMs that read the cleaned text (vectorizer and sampler
"passthrough"): one fitted once (``cv_folds: 0``, as conf/deep configures the networks) and
one cross-validated in-process. They share the comparison table, its ranking, the selection,
the charts and MLflow; the selected model and the network round-trip through MLflow into a
fresh process.
"""

from __future__ import annotations

import io
import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sentiment_mlops.pipelines.evaluation.nodes import comparison_markdown, plot_model_f1
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.candidates import all_candidates
from sentiment_mlops.pipelines.training.nodes import (
    check_candidate,
    compare_candidates,
    select_best_candidate,
    tune_candidate,
)
from tests.networks.conftest import probabilities_from_fresh_process

pytestmark = pytest.mark.integration

TINY_NETWORK = {
    "estimator": "sentiment_mlops.networks.BiLSTMClassifier",
    "input": "text",
    "params": {
        "embedding_dim": 32,
        "hidden_size": 32,
        "max_epochs": 3,
        "learning_rate": 0.003,
        "verbose": False,
    },
}
CANDIDATES = {
    "logistic_regression": {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 500, "class_weight": "balanced"},
        "grid": {"classifier__C": [1.0, 10.0]},
    },
}
NETWORKS = {
    "bilstm": {**TINY_NETWORK, "search": {"cv_folds": 0}},
    # n_jobs 1: the fold fits run in this process, where an MLflow run is active.
    "bilstm_cv": {**TINY_NETWORK, "search": {"cv_folds": 2, "n_jobs": 1}},
}


@pytest.fixture(scope="module")
def compared(store, airline_splits, base_parameters):
    """The training nodes of every candidate inside a parent run, as kedro-mlflow runs them."""
    mlflow.set_tracking_uri(store)
    train, validation, _ = airline_splits
    imbalance = base_parameters["imbalance"]
    feature_pipeline = build_feature_pipeline(base_parameters["vectorizer"], imbalance)
    feature_grid = build_feature_grid(base_parameters["feature_search"], imbalance)
    search = {**base_parameters["search"], "cv_folds": 2}
    with mlflow.start_run(run_name="training") as parent:
        models, rows = {}, []
        for name, candidate in all_candidates(CANDIDATES, NETWORKS).items():
            plan = check_candidate(
                candidate, feature_pipeline, feature_grid, search, imbalance, name=name
            )
            models[name], row = tune_candidate(plan, train, validation, base_parameters["cleaning"])
            rows.append(row)
        comparison = compare_candidates(*rows)
        selected = select_best_candidate(comparison, **models)
    return models, comparison, selected, parent.info.run_id


def test_networks_share_the_table_ranking_and_selection(compared):
    models, comparison, selected, _ = compared
    assert sorted(comparison["model"]) == ["bilstm", "bilstm_cv", "logistic_regression"]
    assert comparison["val_macro_f1"].is_monotonic_decreasing
    assert list(comparison["rank"]) == [1, 2, 3]
    assert selected is models[comparison.loc[0, "model"]]  # whichever the ranking put first
    rows = comparison.set_index("model")
    assert rows.loc["bilstm", "cv_folds"] == 0 and rows.loc["bilstm", "grid_size"] == 1
    assert math.isnan(rows.loc["bilstm", "cv_f1_macro_mean"])  # not cross-validated: blank
    assert 0 < rows.loc["bilstm_cv", "cv_f1_macro_mean"] <= 1
    assert 0 < rows.loc["logistic_regression", "cv_f1_macro_mean"] <= 1
    for name in NETWORKS:
        assert 1 / 3 < rows.loc[name, "val_macro_f1"] <= 1  # above the majority class's ~0.2
        assert rows.loc[name, "fit_time_s"] > 0 and rows.loc[name, "predict_rows_per_s"] > 0
    # The raw-text contract: cleaner -> passthrough vectorizer and sampler -> network.
    network = models["bilstm"]
    assert [name for name, _ in network.steps] == ["cleaner", "vectorizer", "sampler", "classifier"]
    assert network.named_steps["vectorizer"] == network.named_steps["sampler"] == "passthrough"


def test_networks_appear_in_the_comparison_report_and_chart(compared):
    _, comparison, _, _ = compared
    # Through the CSV file, as the evaluation pipeline reads the table.
    comparison = pd.read_csv(io.StringIO(comparison.to_csv(index=False)))
    bilstm_line = next(
        line for line in comparison_markdown(comparison).splitlines() if "| bilstm |" in line
    )
    assert " nan " not in bilstm_line and "|  |" in bilstm_line  # blank cv_* cells
    figure = plot_model_f1(comparison)
    assert all(set(bar.x) == set(comparison["model"]) for bar in figure.data)


def test_each_network_logs_only_its_final_fit_epochs_in_its_own_run(compared, store):
    models, comparison, _, parent_id = compared
    client = MlflowClient(store)
    assert not [key for key in client.get_run(parent_id).data.metrics if key.startswith("bilstm_")]
    for name in NETWORKS:
        run_id = comparison.set_index("model").loc[name, "mlflow_run_id"]
        run = client.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent_id
        assert run.data.params["input"] == "text"
        network = models[name].named_steps["classifier"]
        history = client.get_metric_history(run_id, "bilstm_val_macro_f1")
        # One value per epoch of the final fit; the CV folds' fits logged nothing.
        assert [metric.step for metric in history] == list(range(1, network.n_epochs_ + 1))
        assert [metric.value for metric in history] == [e["val_macro_f1"] for e in network.history_]
        artifacts = {item.path for item in client.list_artifacts(run_id)}
        assert ("cv_results.json" in artifacts) == (name == "bilstm_cv")


def test_selected_model_and_network_round_trip_into_a_fresh_process(
    compared, airline_splits, store, tmp_path
):
    models, _, selected, _ = compared
    texts = airline_splits[2]["text"].tolist()[:60]
    round_trip = {"selected": selected, "bilstm": models["bilstm"]}
    loaded = probabilities_from_fresh_process(round_trip, texts, tmp_path, store)
    for name, model in round_trip.items():
        np.testing.assert_array_equal(loaded[name], model.predict_proba(texts), err_msg=name)
