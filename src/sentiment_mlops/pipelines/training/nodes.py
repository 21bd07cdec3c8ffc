"""Nodes of the training pipeline."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from kedro.utils import load_obj
from scipy import sparse
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.pipeline import Pipeline

from sentiment_mlops.text_cleaning import TextCleaner

logger = logging.getLogger(__name__)


def build_estimator(model: dict[str, Any]) -> ClassifierMixin:
    """An unfitted classifier from its import path and keyword parameters."""
    try:
        estimator_class = load_obj(model["estimator"])
    except (AttributeError, ImportError, ValueError) as error:
        raise ValueError(
            f"Cannot import model.estimator {model['estimator']!r} ({error}); "
            "give a full import path such as sklearn.linear_model.LogisticRegression."
        ) from error
    return estimator_class(**(model.get("params") or {}))


def train_model(
    features: sparse.csr_matrix,
    labels: np.ndarray,
    sample_weights: np.ndarray,
    model: dict[str, Any],
) -> ClassifierMixin:
    """Fit the configured classifier on the (balanced) training data."""
    estimator = build_estimator(model)
    started = time.perf_counter()
    estimator.fit(features, labels, sample_weight=sample_weights)
    logger.info(
        "Fitted %s on %d rows in %.1f s",
        type(estimator).__name__,
        features.shape[0],
        time.perf_counter() - started,
    )
    return estimator


def assemble_sentiment_model(
    cleaning: dict[str, Any], vectorizer: TransformerMixin, classifier: ClassifierMixin
) -> Pipeline:
    """One fitted object from raw text to probabilities: cleaner -> vectorizer -> classifier.

    This is what evaluation, the batch inference pipeline and the API score with, so
    they cannot drift apart. The steps are already fitted; the cleaner learns nothing.
    """
    return Pipeline(
        [
            ("cleaner", TextCleaner(**cleaning)),
            ("vectorizer", vectorizer),
            ("classifier", classifier),
        ]
    )
