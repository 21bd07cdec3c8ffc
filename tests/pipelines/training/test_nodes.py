"""Training: candidate estimators built from their configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from sentiment_mlops.estimator_spec import build_estimator
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.candidates import (
    all_candidates,
    candidate_param_grid,
    plan_candidate,
    plan_candidates,
)
from sentiment_mlops.pipelines.training.search import fit_candidate, raw_text_model
from sentiment_mlops.settings import CONFIG_LOADER_ARGS
from sentiment_mlops.text_cleaning import TextCleaner

pytestmark = pytest.mark.unit


def test_estimator_comes_from_import_path_and_params():
    estimator = build_estimator(
        {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 3.0}}
    )
    assert isinstance(estimator, LogisticRegression) and estimator.C == 3.0


def test_bad_import_path_says_what_to_write():
    with pytest.raises(
        ValueError, match="Cannot import estimator 'sklearn.linear.Nope'.*full import path"
    ):
        build_estimator({"estimator": "sklearn.linear.Nope"})


def test_nested_estimator_specs_become_objects():
    estimator = build_estimator(
        {
            "estimator": "sklearn.calibration.CalibratedClassifierCV",
            "params": {"estimator": {"estimator": "sklearn.svm.LinearSVC", "params": {"C": 0.5}}},
        }
    )
    assert type(estimator.estimator).__name__ == "LinearSVC" and estimator.estimator.C == 0.5


# ------------------------------------------------ candidates that read text (the networks)
FEATURE_GRID = {"sampler": ["passthrough"], "vectorizer__word__max_features": [1000, 2000]}
SEARCH = {"cv_folds": 3, "n_jobs": 1, "verbose": 0, "random_state": 0}
BILSTM = {
    "estimator": "sentiment_mlops.networks.BiLSTMClassifier",
    "input": "text",
    "params": {"max_epochs": 1},
    "search": {"cv_folds": 0},
}


@pytest.fixture(scope="module")
def feature_pipeline(base_parameters):
    return build_feature_pipeline(base_parameters["vectorizer"], base_parameters["imbalance"])


def test_text_candidate_skips_the_feature_steps_and_their_grid(feature_pipeline):
    plan = plan_candidate(BILSTM, feature_pipeline, FEATURE_GRID, SEARCH, name="bilstm")
    assert [(name, step) for name, step in plan.pipeline.steps[:2]] == [
        ("vectorizer", "passthrough"),
        ("sampler", "passthrough"),
    ]
    assert type(plan.pipeline.named_steps["classifier"]).__name__ == "BiLSTMClassifier"
    assert plan.grid == {}  # the shared feature grid is not applied
    assert plan.search == {**SEARCH, "cv_folds": 0}
    # A feature candidate still gets the shared grid, under its own entries.
    classical = {
        "estimator": "sklearn.naive_bayes.ComplementNB",
        "grid": {"classifier__alpha": [1]},
    }
    assert candidate_param_grid(classical, FEATURE_GRID) == {
        **FEATURE_GRID,
        "classifier__alpha": [1],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": {"vectorizer__word__min_df": [1, 2]}}, "tunes the vectorizer.*input: text"),
        ({"grid": {"sampler": ["smote"]}}, "tunes the sampler.*'passthrough'"),
        (
            {"input": "tokens"},
            r"input: 'tokens' is not one of \['features', 'text', 'raw_text'\]",
        ),
        ({"input": "features"}, "BiLSTMClassifier reads texts.*add `input: text`"),
        ({"grid": {"classifier__hidden_size": [32, 64]}}, "grid has 2.*cv_folds >= 2"),
        ({"search": {"cv_folds": 1}}, "cv_folds: 1 must be 0"),
        ({"search": {"folds": 0}}, r"Unknown search option\(s\) \['folds'\]"),
    ],
)
def test_nonsense_text_candidates_are_refused_before_any_fit(feature_pipeline, change, message):
    candidate = {**BILSTM, **change}
    with pytest.raises(ValueError, match=rf"Candidate 'bilstm': .*{message}"):
        plan_candidates({"bilstm": candidate}, feature_pipeline, FEATURE_GRID, SEARCH)


class RecordingTextClassifier(ClassifierMixin, BaseEstimator):
    """Reads texts and keeps those it was fitted on; predicts the first class."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string, tags.input_tags.two_d_array = True, False
        return tags

    def fit(self, texts, labels):
        self.texts_, self.classes_ = list(texts), np.unique(labels)
        return self

    def predict_proba(self, texts):
        self.predicted_texts_ = list(texts)
        return np.eye(len(self.classes_))[np.zeros(len(self.predicted_texts_), dtype=int)]


@pytest.mark.parametrize(
    ("candidate_input", "fitted_on", "cleaner"),
    [("raw_text", "text", "passthrough"), ("text", "clean_text", "TextCleaner")],
)
def test_raw_text_candidates_read_the_text_as_written(
    feature_pipeline, base_parameters, candidate_input, fitted_on, cleaner
):
    candidate = {
        "estimator": f"{__name__}.RecordingTextClassifier",
        "input": candidate_input,
        "search": {"cv_folds": 0},
    }
    plan = plan_candidate(candidate, feature_pipeline, FEATURE_GRID, SEARCH, name="recorder")
    texts = ["@united LOVED it!! 😀", "@delta never again..."]
    train = pd.DataFrame(
        {
            "text": texts,
            "clean_text": TextCleaner(**base_parameters["cleaning"]).transform(texts),
            "label": ["positive", "negative"],
        }
    )
    fitted = fit_candidate(plan, train)
    model = raw_text_model(base_parameters["cleaning"], fitted.model, plan.input)
    assert fitted.model.named_steps["classifier"].texts_ == train[fitted_on].tolist()
    assert [name for name, _ in model.steps] == ["cleaner", "vectorizer", "sampler", "classifier"]
    step = model.named_steps["cleaner"]
    assert (step if isinstance(step, str) else type(step).__name__) == cleaner
    model.predict_proba(train["text"].to_numpy(dtype=object))
    # At prediction the service's raw texts reach the classifier as they were fitted.
    assert model.named_steps["classifier"].predicted_texts_ == train[fitted_on].tolist()


HASHED_WORDS = {
    "estimator": "sklearn.feature_extraction.text.HashingVectorizer",
    "params": {"n_features": 64},
}


def test_feature_blocks_extend_the_shared_vectorizer_for_one_candidate_only(feature_pipeline):
    candidate = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "feature_blocks": {"hashed": HASHED_WORDS},
    }
    plan = plan_candidate(candidate, feature_pipeline, FEATURE_GRID, SEARCH, name="lr")
    shared = [name for name, _ in feature_pipeline.named_steps["vectorizer"].transformer_list]
    branches = plan.pipeline.named_steps["vectorizer"].transformer_list
    assert [name for name, _ in branches] == [*shared, "hashed"]
    assert (
        type(branches[-1][1]).__name__ == "HashingVectorizer" and branches[-1][1].n_features == 64
    )
    # The shared feature pipeline is untouched: other candidates keep their vectorizer.
    assert [
        name for name, _ in feature_pipeline.named_steps["vectorizer"].transformer_list
    ] == shared
    texts = ["great crew thanks", "lost my bag again", "flight at 9?", "never again"]
    fitted = plan.pipeline.fit(texts, ["positive", "negative", "neutral", "negative"])
    width = fitted.named_steps["vectorizer"].transform(texts).shape[1]
    without = plan_candidate(
        {**candidate, "feature_blocks": {}}, feature_pipeline, FEATURE_GRID, SEARCH, name="lr"
    ).pipeline.fit(texts, ["positive", "negative", "neutral", "negative"])
    assert width == without.named_steps["vectorizer"].transform(texts).shape[1] + 64


def test_feature_blocks_join_a_single_vectorizer_as_its_branch(base_parameters):
    """vectorizer.kind: tfidf (one TfidfVectorizer, as conf/bench_imdb) with a block: the
    TF-IDF becomes the union's `ngrams` branch, and the shared grid follows it there."""
    single = build_feature_pipeline(
        {"kind": "tfidf", "word": {"ngram_range": [1, 1]}}, base_parameters["imbalance"]
    )
    shared_grid = {"sampler": ["passthrough"], "vectorizer__max_features": [50, 100]}
    candidate = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "feature_blocks": {"hashed": HASHED_WORDS},
    }
    plan = plan_candidate(candidate, single, shared_grid, SEARCH, name="lr")
    branches = plan.pipeline.named_steps["vectorizer"].transformer_list
    assert [(name, type(step).__name__) for name, step in branches] == [
        ("ngrams", "TfidfVectorizer"),
        ("hashed", "HashingVectorizer"),
    ]
    assert plan.grid == {"sampler": ["passthrough"], "vectorizer__ngrams__max_features": [50, 100]}
    texts = ["great crew thanks", "lost my bag again", "flight at 9?", "never again"]
    labels = ["positive", "negative", "neutral", "negative"]
    fitted = plan.pipeline.set_params(vectorizer__ngrams__max_features=3).fit(texts, labels)
    assert fitted.named_steps["vectorizer"].transform(texts).shape[1] == 3 + 64
    # Other candidates keep the plain vectorizer and the grid as written.
    alone = plan_candidate(
        {"estimator": candidate["estimator"]}, single, shared_grid, SEARCH, name="lr"
    )
    assert type(alone.pipeline.named_steps["vectorizer"]).__name__ == "TfidfVectorizer"
    assert alone.grid == shared_grid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"estimator": "sentiment_mlops.networks.BiLSTMClassifier", "input": "text"}, "reads text"),
        ({"feature_blocks": {"word": HASHED_WORDS}}, r"\['word'\] are already branches"),
    ],
)
def test_feature_blocks_that_cannot_apply_are_refused(feature_pipeline, change, message):
    candidate = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "feature_blocks": {"hashed": HASHED_WORDS},
        **change,
    }
    with pytest.raises(ValueError, match=rf"Candidate 'lr': .*{message}"):
        plan_candidate(candidate, feature_pipeline, FEATURE_GRID, SEARCH, name="lr")


def test_text_input_for_a_feature_matrix_classifier_is_an_error(feature_pipeline):
    candidate = {"estimator": "sklearn.linear_model.LogisticRegression", "input": "text"}
    with pytest.raises(ValueError, match="LogisticRegression takes a feature matrix"):
        plan_candidate(candidate, feature_pipeline, FEATURE_GRID, SEARCH, name="lr")


def test_extra_candidates_join_the_candidates_without_clashing():
    lr = {"estimator": "sklearn.linear_model.LogisticRegression"}
    assert list(all_candidates({"lr": lr}, {"bilstm": BILSTM})) == ["lr", "bilstm"]
    assert list(all_candidates({"lr": lr}, None)) == ["lr"]
    with pytest.raises(ValueError, match=r"\['lr'\] appear in both"):
        all_candidates({"lr": lr}, {"lr": BILSTM})
    with pytest.raises(ValueError, match="No candidate models configured"):
        all_candidates({}, {})


def test_deep_environment_adds_the_networks_to_the_base_candidates(
    project_root, base_parameters, feature_pipeline
):
    """`kedro run --env deep`: the base candidates unchanged, plus the two networks, each
    fitted once without CV; every candidate plans (import paths, grids, options)."""
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), env="deep", **CONFIG_LOADER_ARGS
    )
    parameters = loader["parameters"]
    assert parameters["candidates"] == base_parameters["candidates"]
    assert base_parameters["extra_candidates"] == {}
    networks = parameters["extra_candidates"]
    assert sorted(networks) == ["bilstm", "transformer"]
    feature_grid = build_feature_grid(parameters["feature_search"], parameters["imbalance"])
    plans = plan_candidates(
        all_candidates(parameters["candidates"], networks),
        feature_pipeline,
        feature_grid,
        parameters["search"],
    )
    for name in networks:
        assert plans[name].search["cv_folds"] == 0
        assert plans[name].pipeline.named_steps["vectorizer"] == "passthrough"
    assert all(plans[name].search["cv_folds"] == 3 for name in parameters["candidates"])
