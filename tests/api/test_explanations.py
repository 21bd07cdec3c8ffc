"""Explanations, unit-tested on real fitted sklearn pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sentiment_mlops.api.explanations import LinearExplainer, no_explanation
from sentiment_mlops.estimators import NBSVMClassifier
from sentiment_mlops.features import build_vectorizer
from sentiment_mlops.networks import BiLSTMClassifier
from sentiment_mlops.text_cleaning import TextCleaner

pytestmark = pytest.mark.unit

TEXTS = np.array(
    [
        "great crew thanks",
        "awful delay again",
        "lost my bag awful",
        "thanks lovely flight",
        "ok flight",
        "what time is boarding",
        "never again awful",
        "lovely great service",
    ]
    * 3,
    dtype=object,
)
LABELS = [
    "positive",
    "negative",
    "negative",
    "positive",
    "neutral",
    "neutral",
    "negative",
    "positive",
] * 3
VECTORIZER = {
    "kind": "word_char_ngrams",
    "word": {"ngram_range": [1, 2]},
    "char": {"ngram_range": [2, 3]},
}


def _pipeline(classifier) -> Pipeline:
    return Pipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", build_vectorizer(VECTORIZER)),
            ("classifier", classifier),
        ]
    ).fit(TEXTS, LABELS)


def test_weights_are_the_exact_decomposition_of_the_linear_score():
    pipeline = _pipeline(LogisticRegression())
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="temperature").fit(
        TEXTS, LABELS
    )
    explainer = LinearExplainer.from_model(calibrated)
    text = "awful delay, lost my bag"
    label = "negative"
    explanation = explainer.explain(text, label, top_k=10_000)  # every non-zero feature
    index = list(pipeline.classes_).index(label)
    score = pipeline.decision_function(np.array([text], dtype=object))[0, index]
    total = sum(item.weight for item in explanation.towards + explanation.against)
    assert np.isclose(total, score - pipeline[-1].intercept_[index])
    assert explanation.towards[0].feature in {"word__awful", "word__lost", "word__delay"} or (
        explanation.towards[0].feature.startswith("char__")
    )
    top = explainer.explain(text, label, top_k=3)
    assert [item.weight for item in top.towards] == [
        item.weight for item in explanation.towards[:3]
    ]


@pytest.mark.parametrize("classes", [3, 2])
def test_nbsvm_weights_are_the_exact_decomposition_of_each_one_vs_rest_logit(classes):
    keep = [i for i, label in enumerate(LABELS) if classes == 3 or label != "neutral"]
    texts, labels = TEXTS[keep], [LABELS[i] for i in keep]
    pipeline = Pipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", build_vectorizer({**VECTORIZER, "lexicon": "vader"})),
            ("classifier", NBSVMClassifier(class_weight="balanced")),
        ]
    ).fit(texts, labels)
    nbsvm = pipeline[-1]
    explainer = LinearExplainer.from_model(pipeline)
    text = "awful delay, lost my bag"
    features = pipeline[:-1].transform(np.array([text], dtype=object))
    for row, model in enumerate(nbsvm.estimators_):
        label = nbsvm.classes_[row + 1 if classes == 2 else row]
        explanation = explainer.explain(text, label, top_k=10_000)
        total = sum(item.weight for item in explanation.towards + explanation.against)
        scaled = features.multiply(nbsvm.ratios_[row]).tocsr()
        logit = model.decision_function(scaled)[0]
        assert np.isclose(total, logit - nbsvm.intercept_[row])


def test_binary_models_explain_both_classes():
    texts, labels = TEXTS[:8], ["positive", "negative", "negative", "positive"] * 2
    pipeline = Pipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", build_vectorizer({"kind": "tfidf"})),
            ("classifier", LogisticRegression()),
        ]
    ).fit(texts, labels)
    explainer = LinearExplainer.from_model(pipeline)
    for_negative = explainer.explain("awful delay", "negative", top_k=5)
    for_positive = explainer.explain("awful delay", "positive", top_k=5)
    assert [i.feature for i in for_negative.towards] == [i.feature for i in for_positive.against]


def test_non_linear_models_get_no_invented_explanation():
    reason = LinearExplainer.from_model(_pipeline(RandomForestClassifier(n_estimators=5)))
    assert isinstance(reason, str)
    assert "RandomForestClassifier is not a linear model" in reason
    answer = no_explanation(reason)
    assert answer.available is False and not answer.towards and not answer.against
    assert answer.reason.startswith("No explanation is available: RandomForestClassifier")


def test_a_network_behind_passthrough_steps_gets_no_invented_explanation():
    """The comparison's shape for a network: cleaner -> passthrough vectorizer and sampler ->
    BiLSTM, calibrated; nothing to decompose, and the service says so."""
    network = BiLSTMClassifier(
        embedding_dim=8, hidden_size=8, max_epochs=1, validation_fraction=0, verbose=False
    )
    pipeline = ImbPipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", "passthrough"),
            ("sampler", "passthrough"),
            ("classifier", network),
        ]
    ).fit(TEXTS, LABELS)
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="temperature")
    reason = LinearExplainer.from_model(calibrated.fit(TEXTS, LABELS))
    assert isinstance(reason, str)
    assert "BiLSTMClassifier is not a linear model" in reason
