"""Training: the configured estimator, and the raw-text model assembled from fitted parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from sentiment_mlops.pipelines.feature_engineering.nodes import fit_vectorizer, vectorize_texts
from sentiment_mlops.pipelines.training.nodes import (
    assemble_sentiment_model,
    build_estimator,
    train_model,
)
from sentiment_mlops.text_cleaning import TextCleaner


def test_estimator_comes_from_import_path_and_params():
    estimator = build_estimator(
        {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 3.0}}
    )
    assert isinstance(estimator, LogisticRegression) and estimator.C == 3.0


def test_bad_import_path_says_what_to_write():
    with pytest.raises(
        ValueError, match="Cannot import model.estimator 'sklearn.linear.Nope'.*full import path"
    ):
        build_estimator({"estimator": "sklearn.linear.Nope"})


def test_assembled_model_scores_raw_text_like_its_parts(airline_sample):
    split = pd.DataFrame(
        {"text": airline_sample["text"], "label": airline_sample["airline_sentiment"]}
    ).reset_index(drop=True)
    split["clean_text"] = TextCleaner().transform(split["text"])
    vectorizer = fit_vectorizer(split, {"kind": "tfidf", "word": {"min_df": 2}})
    features = vectorize_texts(vectorizer, split)
    weights = np.ones(len(split))
    classifier = train_model(
        features,
        split["label"].to_numpy(),
        weights,
        {"estimator": "sklearn.linear_model.LogisticRegression"},
    )
    model = assemble_sentiment_model({}, vectorizer, classifier)
    np.testing.assert_allclose(
        model.predict_proba(split["text"]), classifier.predict_proba(features)
    )
    assert list(model.classes_) == ["negative", "neutral", "positive"]
    # Better than always answering the majority class on its own training data.
    assert (model.predict(split["text"]) == split["label"]).mean() > 0.7
