"""NB-SVM scores with its stored linear weights exactly what its one-vs-rest models say; the
text vote averages members that each read text; all of them follow scikit-learn's conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from scipy import sparse
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sentiment_mlops.estimators import (
    LabelEncodedClassifier,
    NBSVMClassifier,
    TextVotingClassifier,
    estimator_parts,
    replace_parts,
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


def _served_like_model() -> CalibratedClassifierCV:
    """Nested as a registered vote is: calibrated(frozen(pipeline(vote of frozen pipelines)))."""
    members = [
        (name, FrozenEstimator(make_pipeline(CountVectorizer(), model).fit(TEXTS, LABELS)))
        for name, model in [("nbsvm", NBSVMClassifier()), ("logreg", LogisticRegression())]
    ]
    vote = TextVotingClassifier(members, voting="soft")
    model = ImbPipeline([("sampler", "passthrough"), ("classifier", vote)]).fit(TEXTS, LABELS)
    return CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid").fit(TEXTS, LABELS)


def test_estimator_parts_reaches_every_fitted_estimator_at_any_depth():
    parts = estimator_parts(_served_like_model())
    names = [type(part).__name__ for part in parts]
    assert names.count("NBSVMClassifier") == 1
    assert names.count("LogisticRegression") == 1
    assert names.count("CountVectorizer") == 2
    assert names.count("TextVotingClassifier") == 1
    assert names[-1] == "CalibratedClassifierCV"  # innermost first, the model itself last


def test_replace_parts_puts_each_replacement_where_the_old_part_was():
    model = _served_like_model()
    always_negative = DummyClassifier(strategy="constant", constant="negative")

    def replace(part):
        if isinstance(part, (NBSVMClassifier, LogisticRegression)):
            return clone(always_negative).fit(np.zeros((3, 1)), ["negative", "neutral", "positive"])
        return part

    replaced = replace_parts(model, replace)
    assert replaced is model
    assert not any(
        isinstance(part, (NBSVMClassifier, LogisticRegression)) for part in estimator_parts(model)
    )
    # Both members of the vote inside the calibrated model now say "negative" with certainty.
    member_probabilities = [
        member.predict_proba(["great flight"])
        for member in model.calibrated_classifiers_[0].estimator.estimator[-1].estimators_
    ]
    for probabilities in member_probabilities:
        np.testing.assert_array_equal(probabilities, [[1.0, 0.0, 0.0]])


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
