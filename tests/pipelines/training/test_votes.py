"""Soft votes of fitted candidates: the weight grid, the choice on validation, the checks, and a
vote of two real candidates through the training nodes, logged in its nested MLflow run."""

from __future__ import annotations

import json
import pickle

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.model_selection import StratifiedKFold

from sentiment_mlops.metrics import compute_metrics, scored_split
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.nodes import check_candidate, tune_candidate
from sentiment_mlops.pipelines.training.votes import (
    CROSS_FIT_FOLDS,
    blend_candidates,
    check_votes,
    choose_weights,
    cross_fitted_probabilities,
    weight_grid,
)

CLASSES = ["negative", "neutral", "positive"]


@pytest.mark.unit
def test_weight_grid_sums_to_one_most_even_first():
    grid = weight_grid(2, 0.25)
    assert grid[0] == (0.5, 0.5)
    assert set(grid) == {(0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (1.0, 0.0)}
    three = weight_grid(3, 0.5)
    assert set(three) == {
        (0.0, 0.5, 0.5),
        (0.5, 0.0, 0.5),
        (0.5, 0.5, 0.0),
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
    }
    assert all(np.isclose(sum(weights), 1.0) for weights in [*grid, *three])


@pytest.mark.unit
def test_the_weights_that_fix_each_members_mistakes_win():
    truth = np.array(["negative", "positive", "neutral", "positive"], dtype=object)
    # Each member is sure where it is right and unsure where it is wrong; only a mix is right
    # on all four texts, and a 0.9 / 0.1 mix is not (it follows the first member's mistake).
    first = np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.4, 0.3, 0.3], [0.4, 0.3, 0.3]])
    second = np.array([[0.4, 0.3, 0.3], [0.4, 0.3, 0.3], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    table = choose_weights([first, second], truth, CLASSES, step=0.1)
    assert len(table) == 11
    assert table.loc[0, "weights"] == (0.5, 0.5) and table.loc[0, "val_macro_f1"] == 1.0
    by_weights = dict(zip(table["weights"], table["val_macro_f1"], strict=True))
    assert by_weights[(1.0, 0.0)] < 1.0 and by_weights[(0.0, 1.0)] < 1.0
    assert by_weights[(0.9, 0.1)] < 1.0
    assert table["val_macro_f1"].is_monotonic_decreasing


@pytest.mark.unit
def test_each_part_of_validation_is_scored_with_weights_chosen_on_the_other():
    """Two members, each right on one part of the validation split and wrong on the other: on
    all of it a weighting looks half right, but weights chosen on one part fail the other."""
    truth = np.array(["negative", "positive"] * 10, dtype=object)
    sure = {"negative": [0.9, 0.1], "positive": [0.1, 0.9]}
    right = np.array([sure[label] for label in truth])
    wrong = right[:, ::-1]
    parts = StratifiedKFold(CROSS_FIT_FOLDS, shuffle=True, random_state=0)
    first_part = next(iter(parts.split(np.zeros(len(truth)), truth)))[1]
    first, second = wrong.copy(), right.copy()  # first is right on the first part only
    first[first_part], second[first_part] = right[first_part], wrong[first_part]
    classes = ["negative", "positive"]
    in_sample = choose_weights([first, second], truth, classes, step=0.5)
    assert in_sample.loc[0, "val_macro_f1"] >= 0.5
    mixed = cross_fitted_probabilities([first, second], truth, classes, step=0.5)
    predicted = np.asarray(classes, dtype=object)[mixed.argmax(axis=1)]
    assert (predicted != truth).all()


@pytest.mark.unit
def test_a_perfect_member_is_perfect_cross_fitted_too():
    truth = np.array(["negative", "neutral", "positive"] * 4, dtype=object)
    perfect = np.array([np.eye(3)[CLASSES.index(label)] for label in truth])
    noise = np.random.default_rng(0).dirichlet(np.ones(3), size=len(truth))
    mixed = cross_fitted_probabilities([noise, perfect], truth, CLASSES, step=0.1)
    assert (np.asarray(CLASSES, dtype=object)[mixed.argmax(axis=1)] == truth).all()


@pytest.mark.unit
def test_too_few_texts_of_a_class_leave_nothing_to_cross_fit():
    truth = np.array(["negative", "positive", "positive"], dtype=object)
    member = np.full((3, 2), 0.5)
    assert (
        cross_fitted_probabilities([member, member], truth, ["negative", "positive"], 0.5) is None
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("votes", "message"),
    [
        ({"v": {"members": ["a"]}}, r"at least two different candidates, got \['a'\]"),
        ({"v": {"members": ["a", "a"]}}, "at least two different candidates"),
        ({"v": {"members": ["a", "zz"]}}, r"members \['zz'\] are not candidates of this run"),
        ({"a": {"members": ["a", "b"]}}, "also a candidate's"),
        ({"v": {"members": ["a", "b"], "weight_step": 0.3}}, "weight_step 0.3 must divide 1"),
        ({"v": {"members": ["a", "b"], "weight_step": 0}}, "weight_step 0 must divide 1"),
    ],
)
def test_nonsense_votes_are_refused_with_the_reason(votes, message):
    with pytest.raises(ValueError, match=rf"Vote '(v|a)': .*{message}"):
        check_votes(votes, ["a", "b"])


@pytest.mark.unit
def test_no_votes_is_fine():
    assert check_votes(None, ["a"]) == {} and check_votes({}, ["a"]) == {}


@pytest.fixture(scope="module")
def members(store, airline_splits, base_parameters):
    """Two real, quick candidates tuned by the training nodes (one grid point each)."""
    train, validation, _ = airline_splits
    imbalance = base_parameters["imbalance"]
    feature_pipeline = build_feature_pipeline(base_parameters["vectorizer"], imbalance)
    feature_grid = build_feature_grid(base_parameters["feature_search"], imbalance)
    search = {**base_parameters["search"], "cv_folds": 0, "n_jobs": 1}
    fitted = {}
    with mlflow.start_run(run_name="training"):
        for name in ("logistic_regression", "complement_nb"):
            candidate = base_parameters["candidates"][name]
            one_point = {key: values[:1] for key, values in candidate.get("grid", {}).items()}
            plan = check_candidate(
                {**candidate, "grid": one_point},
                feature_pipeline,
                {key: values[:1] for key, values in feature_grid.items()},
                search,
                imbalance,
                name=name,
            )
            fitted[name] = tune_candidate(plan, train, validation, base_parameters["cleaning"])
    return fitted


@pytest.fixture(scope="module")
def blended(members, airline_splits, store):
    _, validation, _ = airline_splits
    vote = {"members": list(members), "weight_step": 0.1}
    inputs = [item for name in members for item in members[name]]
    with mlflow.start_run(run_name="training"):
        return blend_candidates(vote, validation, *inputs, name="linear_vote")


@pytest.mark.integration
def test_the_vote_mixes_the_members_probabilities_with_the_chosen_weights(
    blended, members, airline_splits
):
    model, row = blended
    _, validation, test = airline_splits
    chosen = json.loads(row["best_params"])
    assert chosen["members"] == ["logistic_regression", "complement_nb"]
    assert np.isclose(sum(chosen["weights"]), 1.0)
    assert [step for step, _ in model.steps] == ["cleaner", "vectorizer", "sampler", "classifier"]
    texts = test["text"].to_numpy(dtype=object)
    expected = sum(
        weight * members[name][0].predict_proba(texts)
        for name, weight in zip(chosen["members"], chosen["weights"], strict=True)
    )
    np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-12)
    assert list(model.classes_) == list(members["logistic_regression"][0].classes_)
    # Its row scores each half of validation with the weights chosen on the other half.
    probabilities = [
        members[name][0].predict_proba(validation["text"].to_numpy(dtype=object))
        for name in chosen["members"]
    ]
    truth = validation["label"].to_numpy(dtype=object)
    cross_fitted = cross_fitted_probabilities(probabilities, truth, list(model.classes_), 0.1)
    expected_metrics = compute_metrics(scored_split(validation, cross_fitted, model.classes_))
    for metric in ("accuracy", "macro_f1", "macro_recall", "negative_roc_auc"):
        assert row[f"val_{metric}"] == pytest.approx(expected_metrics[metric])
    assert row["grid_size"] == 11 and row["cv_folds"] == 0
    assert row["fit_time_s"] == pytest.approx(
        sum(members[name][1]["fit_time_s"] for name in members)
    )


@pytest.mark.integration
def test_the_vote_has_its_nested_run_and_pickles(blended, store, airline_splits):
    model, row = blended
    run = MlflowClient(store).get_run(row["mlflow_run_id"])
    assert run.data.tags["candidate"] == "linear_vote"
    assert run.data.params["estimator"] == "sklearn.ensemble.VotingClassifier"
    weights = json.loads(row["best_params"])["weights"]
    assert [
        float(run.data.params[f"weight_{name}"])
        for name in ("logistic_regression", "complement_nb")
    ] == weights
    assert run.data.metrics["val_macro_f1"] == pytest.approx(row["val_macro_f1"])
    search = pd.read_json(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="weight_search.json"
        ),
        orient="split",
    )
    assert len(search) == 11
    assert search["val_macro_f1"].max() == pytest.approx(run.data.metrics["in_sample_val_macro_f1"])
    texts = airline_splits[2]["text"].to_numpy(dtype=object)[:20]
    np.testing.assert_allclose(
        pickle.loads(pickle.dumps(model)).predict_proba(texts), model.predict_proba(texts)
    )
