"""NB-SVM scores with its stored linear weights exactly what its one-vs-rest models say; the
text vote averages members that each read text; all of them follow scikit-learn's conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sentiment_mlops.estimators import (
    LabelEncodedClassifier,
    NBSVMClassifier,
    TextVotingClassifier,
)
from sentiment_mlops.pipelines.training.candidates import candidate_pipeline
from tests.text_estimator_checks import parametrize_with_text_checks

pytestmark = pytest.mark.unit


def _counts(rows: int, columns: int, seed: int) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    return sparse.csr_matrix(rng.poisson(0.3, size=(rows, columns)).astype(float))


@pytest.mark.parametrize("classes", [["neg", "pos"], ["negative", "neutral", "positive"]])
def test_probabilities_are_those_of_the_one_vs_rest_regressions_on_scaled_features(classes):
    labels = np.array(classes * (120 // len(classes)))
    features = _counts(len(labels), 40, seed=0)
    model = NBSVMClassifier(C=3.0, class_weight="balanced").fit(features, labels)
    held_out = _counts(15, 40, seed=1)

    # The definition: regression k on the features scaled by log-count ratio k.
    positives = np.column_stack(
        [
            regression.predict_proba(held_out.multiply(ratio).tocsr())[:, 1]
            for regression, ratio in zip(model.estimators_, model.ratios_, strict=True)
        ]
    )
    if len(classes) == 2:
        expected = np.column_stack([1 - positives[:, 0], positives[:, 0]])
    else:
        expected = positives / positives.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(model.predict_proba(held_out), expected, rtol=0, atol=1e-12)
    assert list(model.predict(held_out)) == list(model.classes_[expected.argmax(axis=1)])


def test_the_weights_are_stored_as_scipy_multiplies_them_and_survive_pickling():
    features, labels = _counts(90, 30, seed=3), np.array(["a", "b", "c"] * 30)
    model = NBSVMClassifier().fit(features, labels)
    # Sparse @ coef_.T copies coef_ unless coef_.T is C-contiguous (coef_ column-major).
    assert model.coef_.T.flags.c_contiguous

    loaded = pickle.loads(pickle.dumps(model))

    assert loaded.coef_.T.flags.c_contiguous
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))


def _text_vote(weights: list[float] | None = None):

    return TextVotingClassifier(
        [
            ("nbsvm", make_pipeline(CountVectorizer(binary=True), NBSVMClassifier())),
            ("char_lr", make_pipeline(CountVectorizer(analyzer="char_wb"), LogisticRegression())),
        ],
        voting="soft",
        weights=weights,
    )


TEXTS = ["great flight", "lost my bag", "ok i guess", "love it", "awful delay", "fine"] * 6
LABELS = ["positive", "negative", "neutral", "positive", "negative", "neutral"] * 6


def test_text_vote_averages_its_members_probabilities_on_texts():
    vote = _text_vote(weights=[3, 1]).fit(TEXTS, LABELS)
    held_out = ["great bag", "awful flight", "fine i guess"]
    members = [member.predict_proba(held_out) for member in vote.estimators_]
    np.testing.assert_allclose(
        vote.predict_proba(held_out), (3 * members[0] + members[1]) / 4, rtol=0, atol=1e-12
    )
    assert list(vote.classes_) == ["negative", "neutral", "positive"]


def test_the_comparison_hands_a_text_vote_texts_and_nothing_else():

    spec = {
        "estimator": "sentiment_mlops.estimators.TextVotingClassifier",
        "params": {
            "estimators": [
                [
                    "nbsvm",
                    {
                        "estimator": "sklearn.pipeline.Pipeline",
                        "params": {
                            "steps": [
                                [
                                    "vectorizer",
                                    {
                                        "estimator": "sklearn.feature_extraction.text.CountVectorizer"
                                    },
                                ],
                                [
                                    "classifier",
                                    {"estimator": "sentiment_mlops.estimators.NBSVMClassifier"},
                                ],
                            ]
                        },
                    },
                ]
            ],
            "voting": "soft",
        },
    }
    features = ImbPipeline([("vectorizer", TfidfVectorizer()), ("sampler", "passthrough")])
    with pytest.raises(ValueError, match="add `input: text`"):
        candidate_pipeline(spec, features)
    pipeline = candidate_pipeline({**spec, "input": "text"}, features)
    assert [step for _, step in pipeline.steps[:2]] == ["passthrough", "passthrough"]
    fitted = pipeline.fit(TEXTS, LABELS)
    assert fitted.predict(["love it"]).tolist() == ["positive"]


EXPECTED_FAILED_CHECKS = {
    "NBSVMClassifier": {
        "check_class_weight_classifiers": (
            "feeds make_blobs features, negative ones included, whatever the positive_only "
            "tag says; NB-SVM's log-count ratios are defined for non-negative features only"
        ),
    },
}


@pytest.mark.unit
@parametrize_with_checks(
    [NBSVMClassifier(), LabelEncodedClassifier(LogisticRegression())],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS.get(
        type(estimator).__name__, {}
    ),
    xfail_strict=True,
)
def test_feature_matrix_classifiers_follow_scikit_learn_conventions(estimator, check):
    check(estimator)


@pytest.mark.unit
@parametrize_with_text_checks([_text_vote()])
def test_text_vote_follows_scikit_learn_conventions(estimator, check):
    check(estimator)
