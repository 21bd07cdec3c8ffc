"""The vectorizer and sampler steps every candidate starts from, and their search space."""

from __future__ import annotations

from collections import Counter

import pytest
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from sentiment_mlops.features import build_vectorizer, sampler_step
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)

pytestmark = pytest.mark.unit

WORD = {"ngram_range": [1, 2], "min_df": 1, "sublinear_tf": True}


@pytest.mark.parametrize(
    ("kind", "expected_type", "binary"),
    [
        ("binary_bow", CountVectorizer, True),
        ("counts", CountVectorizer, False),
        ("tfidf", TfidfVectorizer, None),
    ],
)
def test_vectorizer_kinds(kind, expected_type, binary):
    vectorizer = build_vectorizer({"kind": kind, "word": WORD})
    assert type(vectorizer) is expected_type
    assert vectorizer.ngram_range == (1, 2)
    if binary is not None:
        assert vectorizer.binary is binary
    counts = vectorizer.fit_transform(["good good flight"]).toarray()
    assert counts.max() == (1 if kind != "counts" else 2) or kind == "tfidf"


def test_word_char_ngrams_concatenates_both_feature_sets():
    vectorizer = build_vectorizer(
        {"kind": "word_char_ngrams", "word": WORD, "char": {"ngram_range": [2, 3], "min_df": 1}}
    )
    assert isinstance(vectorizer, FeatureUnion)
    names = vectorizer.fit(["late again"]).get_feature_names_out()
    assert "word__late again" in names and "char__ la" in names


def test_vader_lexicon_features_sit_beside_the_ngrams():
    vectorizer = build_vectorizer({"kind": "tfidf", "word": WORD, "lexicon": "vader"})
    assert [name for name, _ in vectorizer.transformer_list] == ["word", "lexicon"]
    texts = ["great flight love it", "terrible awful delay", "the flight is at noon"]
    features = vectorizer.fit_transform(texts)
    names = list(vectorizer.get_feature_names_out())
    lexicon = {
        name: names.index(f"lexicon__vader_{name}")
        for name in ("negative", "neutral", "positive", "compound_positive", "compound_negative")
    }
    dense = features.toarray()
    assert dense.min() >= 0  # NB-SVM and naive Bayes need non-negative features
    great, terrible, neutral = dense
    assert great[lexicon["compound_positive"]] > 0.5 and great[lexicon["compound_negative"]] == 0
    assert terrible[lexicon["compound_negative"]] > 0.5 and terrible[lexicon["positive"]] == 0
    assert neutral[lexicon["neutral"]] == 1.0
    # Stateless: the same text gets the same lexicon scores whatever it was fitted on.
    refitted = build_vectorizer({"kind": "tfidf", "word": WORD, "lexicon": "vader"})
    again = refitted.fit(["something else entirely"]).transform(texts[:1]).toarray()[0]
    assert again[-5:].tolist() == great[lexicon["negative"] :].tolist()


def test_unknown_vectorizer_and_strategy_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown vectorizer kind 'glove'.*'tfidf'"):
        build_vectorizer({"kind": "glove"})
    with pytest.raises(ValueError, match=r"Unknown lexicon 'afinn'.*'vader'"):
        build_vectorizer({"kind": "tfidf", "lexicon": "afinn"})
    with pytest.raises(ValueError, match=r"Unknown imbalance strategy 'oversample'.*'smote'"):
        sampler_step("oversample")


def test_feature_pipeline_chains_vectorizer_and_sampler_of_the_strategy():
    vectorizer = {"kind": "tfidf", "word": {"ngram_range": [1, 1]}}
    for strategy, sampler_type in (("smote", SMOTE), ("undersample", RandomUnderSampler)):
        steps = build_feature_pipeline(vectorizer, {"strategy": strategy, "random_state": 0})
        assert isinstance(steps.named_steps["vectorizer"], TfidfVectorizer)
        assert isinstance(steps.named_steps["sampler"], sampler_type)
    # Class weights are the classifier's business: nothing is resampled.
    steps = build_feature_pipeline(vectorizer, {"strategy": "class_weights"})
    assert steps.named_steps["sampler"] == "passthrough"


def test_imbalance_strategy_none_is_refused_as_a_double_of_class_weights():
    """`none` built what `class_weights` builds: one name for "no resampling" is left."""
    vectorizer = {"kind": "tfidf", "word": {"ngram_range": [1, 1]}}
    with pytest.raises(ValueError, match=r"Unknown imbalance strategy 'none'.*class_weights"):
        build_feature_pipeline(vectorizer, {"strategy": "none"})


def test_vectorizer_learns_vocabulary_from_the_data_it_is_fitted_on_only():
    steps = build_feature_pipeline(
        {"kind": "tfidf", "word": {"ngram_range": [1, 1]}}, {"strategy": "class_weights"}
    )
    steps.fit(["good flight", "bad delay"], ["positive", "negative"])
    assert "unseenword" not in steps.named_steps["vectorizer"].vocabulary_
    assert steps.named_steps["vectorizer"].transform(["unseenword flight"]).shape == (1, 4)


def test_smote_balances_the_classes_it_is_fitted_on():
    texts = [f"late delay bad {i}" for i in range(30)] + [
        f"great crew thanks {i}" for i in range(8)
    ]
    labels = ["negative"] * 30 + ["positive"] * 8
    steps = build_feature_pipeline(
        {"kind": "tfidf", "word": {"ngram_range": [1, 1]}}, {"strategy": "smote", "random_state": 0}
    )
    features, resampled = steps.fit_resample(texts, labels)
    assert Counter(resampled) == {"negative": 30, "positive": 30}
    assert features.shape[0] == 60


def test_feature_grid_turns_strategies_into_samplers_and_ranges_into_tuples():
    grid = build_feature_grid(
        {"vectorizer__word__ngram_range": [[1, 1], [1, 2]]},
        {"strategy": ["class_weights", "smote"], "random_state": 0},
    )
    assert grid["sampler"][0] == "passthrough" and isinstance(grid["sampler"][1], SMOTE)
    assert grid["sampler"][1].random_state == 0
    assert grid["vectorizer__word__ngram_range"] == [(1, 1), (1, 2)]


def test_one_imbalance_strategy_is_searched_as_a_one_point_grid():
    grid = build_feature_grid({}, {"strategy": "undersample", "random_state": 0})
    assert list(grid) == ["sampler"] and isinstance(grid["sampler"][0], RandomUnderSampler)


def test_feature_grid_refuses_a_value_that_is_not_a_list():
    with pytest.raises(
        ValueError, match="feature_search.vectorizer__word__min_df must be a non-empty list"
    ):
        build_feature_grid({"vectorizer__word__min_df": 2}, {"strategy": "class_weights"})
    with pytest.raises(
        ValueError, match=r"imbalance.strategy must be one of .* or a non-empty list"
    ):
        build_feature_grid({}, {"strategy": []})


def test_sampler_is_chosen_by_imbalance_strategy_only():
    with pytest.raises(
        ValueError, match="feature_search.sampler is not a setting.*imbalance.strategy"
    ):
        build_feature_grid({"sampler": ["smote"]}, {"strategy": "class_weights"})
