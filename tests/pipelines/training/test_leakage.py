"""SMOTE inside the search: synthetic rows are fitted on, never scored.

A classifier that records every matrix it is fitted on and asked to predict shows that,
in each fold, the rows it scores are exactly the vectorized original validation texts
(SMOTE's synthetic rows only ever reach ``fit``), and the same for the test split.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.candidates import plan_candidate
from sentiment_mlops.pipelines.training.search import build_search, fit_candidate, raw_text_model

pytestmark = pytest.mark.integration


class RecordingLogisticRegression(LogisticRegression):
    """Logistic regression that keeps a copy of what it is fitted on and asked to score."""

    fitted: ClassVar[list] = []
    scored: ClassVar[list] = []

    def fit(self, X, y, sample_weight=None):  # noqa: D102
        RecordingLogisticRegression.fitted.append(X.copy())
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):  # noqa: D102
        RecordingLogisticRegression.scored.append(X.copy())
        return super().predict_proba(X)

    def predict(self, X):  # noqa: D102
        RecordingLogisticRegression.scored.append(X.copy())
        return super().predict(X)


def _same_rows(left, right) -> bool:
    """Same rows, up to float rounding of two separate TF-IDF fits (synthetic rows differ by far more)."""
    return left.shape == right.shape and (left.shape[0] == 0 or abs(left - right).max() < 1e-12)


def test_smote_rows_never_reach_validation_folds_or_test(airline_splits, base_parameters):
    train, _, test = airline_splits
    # Make the classes unequal so that SMOTE has rows to synthesise.
    train = train.drop(train.index[train["label"] == "positive"][:60]).reset_index(drop=True)
    imbalance = {"strategy": "smote", "random_state": 0}
    feature_pipeline = build_feature_pipeline(base_parameters["vectorizer"], imbalance)
    feature_grid = build_feature_grid({}, imbalance)
    candidate = {
        "estimator": f"{__name__}.RecordingLogisticRegression",
        "params": {"max_iter": 300},
        "grid": {"classifier__C": [1.0]},
    }
    search = {"cv_folds": 2, "n_jobs": 1, "verbose": 0, "random_state": 0}
    RecordingLogisticRegression.fitted.clear()
    RecordingLogisticRegression.scored.clear()

    plan = plan_candidate(candidate, feature_pipeline, feature_grid, search, name="recording")
    candidate_fit = fit_candidate(plan, train)

    texts, labels = train["clean_text"].to_numpy(), train["label"].to_numpy(dtype=object)
    folds = list(build_search(plan).cv.split(texts, labels))  # seeded: the folds it used
    scored_during_cv = RecordingLogisticRegression.scored[:]
    assert scored_during_cv, "the search never scored a validation fold"
    for fit_index, (train_rows, validation_rows) in enumerate(folds):
        vectorizer = clone(feature_pipeline.named_steps["vectorizer"]).fit(texts[train_rows])
        originals = vectorizer.transform(texts[train_rows])
        fitted = RecordingLogisticRegression.fitted[fit_index]
        # SMOTE ran inside the fold: the classifier saw the originals plus synthetic rows.
        assert fitted.shape[0] > len(train_rows)
        assert _same_rows(fitted[: len(train_rows)], originals)
        # ...but what it scored for this fold is exactly the original validation rows.
        expected = vectorizer.transform(texts[validation_rows])
        assert any(_same_rows(matrix, expected) for matrix in scored_during_cv), (
            f"fold {fit_index}: the scored rows are not exactly the validation fold's texts"
        )
    assert all(
        any(
            _same_rows(matrix, vectorizer_rows)
            for vectorizer_rows in [
                clone(feature_pipeline.named_steps["vectorizer"]).fit(texts[t]).transform(texts[v])
                for t, v in folds
            ]
        )
        for matrix in scored_during_cv
    ), "a scored matrix is not a validation fold (synthetic or training rows were scored)"

    # The refit on the whole training split resampled too; the test split is scored as is.
    refit = RecordingLogisticRegression.fitted[-1]
    assert refit.shape[0] > len(train)
    model = raw_text_model(base_parameters["cleaning"], candidate_fit.model)
    RecordingLogisticRegression.scored.clear()
    probabilities = model.predict_proba(test["text"])
    assert probabilities.shape == (len(test), 3)
    fitted_vectorizer = model.named_steps["vectorizer"]
    assert _same_rows(
        RecordingLogisticRegression.scored[0], fitted_vectorizer.transform(test["clean_text"])
    )
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
