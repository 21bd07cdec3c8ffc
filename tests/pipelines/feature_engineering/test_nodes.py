"""Vectorizers fitted on training data only; imbalance handled on training data only."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from sentiment_mlops.features import build_sampler, build_vectorizer
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    balance_training_data,
    fit_vectorizer,
    vectorize_texts,
)

WORD = {"ngram_range": [1, 2], "min_df": 1, "sublinear_tf": True}


def _split(texts, labels):
    return pd.DataFrame({"clean_text": texts, "label": labels})


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


def test_unknown_vectorizer_and_strategy_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown vectorizer kind 'glove'.*'tfidf'"):
        build_vectorizer({"kind": "glove"})
    with pytest.raises(ValueError, match=r"Unknown imbalance strategy 'oversample'.*'smote'"):
        build_sampler("oversample")


def test_vectorizer_learns_vocabulary_from_training_split_only():
    train = _split(["good flight", "bad delay"], ["positive", "negative"])
    test = _split(["unseenword flight"], ["positive"])
    vectorizer = fit_vectorizer(train, {"kind": "tfidf", "word": {"ngram_range": [1, 1]}})
    assert "unseenword" not in vectorizer.vocabulary_
    features = vectorize_texts(vectorizer, test)
    assert sparse.issparse(features) and features.shape == (1, 4)


def _imbalanced(n_major=60, n_minor=12):
    rng = np.random.default_rng(0)
    features = sparse.csr_matrix(rng.random((n_major + n_minor, 5)))
    split = _split(["t"] * (n_major + n_minor), ["negative"] * n_major + ["positive"] * n_minor)
    return features, split


def test_no_strategy_keeps_data_and_unit_weights():
    features, split = _imbalanced()
    out_features, labels, weights = balance_training_data(features, split, {"strategy": "none"})
    assert out_features.shape == features.shape and (weights == 1).all()
    assert labels.tolist() == split["label"].tolist()


def test_class_weights_balance_total_weight_per_class():
    features, split = _imbalanced()
    _, labels, weights = balance_training_data(features, split, {"strategy": "class_weights"})
    totals = {label: weights[labels == label].sum() for label in set(labels)}
    assert totals["negative"] == pytest.approx(totals["positive"])


def test_smote_oversamples_minority_to_majority_size():
    features, split = _imbalanced()
    out_features, labels, weights = balance_training_data(
        features, split, {"strategy": "smote", "random_state": 0}
    )
    assert Counter(labels) == {"negative": 60, "positive": 60}
    assert out_features.shape[0] == 120 and (weights == 1).all()


def test_undersampling_shrinks_majority_to_minority_size():
    features, split = _imbalanced()
    _, labels, _ = balance_training_data(
        features, split, {"strategy": "undersample", "random_state": 0}
    )
    assert Counter(labels) == {"negative": 12, "positive": 12}
