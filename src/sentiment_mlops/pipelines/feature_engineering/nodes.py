"""Nodes of the feature_engineering pipeline."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import TransformerMixin
from sklearn.utils.class_weight import compute_sample_weight

from sentiment_mlops.features import build_sampler, build_vectorizer

logger = logging.getLogger(__name__)


def fit_vectorizer(train_split: pd.DataFrame, vectorizer: dict[str, Any]) -> TransformerMixin:
    """Fit the configured vectorizer on the training split's cleaned texts only."""
    fitted = build_vectorizer(vectorizer).fit(train_split["clean_text"])
    logger.info("Fitted a %s vectorizer", vectorizer["kind"])
    return fitted


def vectorize_texts(vectorizer: TransformerMixin, split: pd.DataFrame) -> sparse.csr_matrix:
    """Turn one split's cleaned texts into a sparse feature matrix."""
    return sparse.csr_matrix(vectorizer.transform(split["clean_text"]))


def balance_training_data(
    train_features: sparse.csr_matrix, train_split: pd.DataFrame, imbalance: dict[str, Any]
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Apply the imbalance strategy to the training data (never to validation or test).

    Returns the (possibly resampled) features, their labels, and per-row sample weights:
    balanced weights for ``class_weights``, ones otherwise.
    """
    labels = train_split["label"].to_numpy(dtype=object)
    strategy = imbalance["strategy"]
    sampler = build_sampler(strategy, imbalance.get("random_state"))
    if sampler is not None:
        train_features, labels = sampler.fit_resample(train_features, labels)
        logger.info("%s resampled the training data to %d rows", strategy, len(labels))
    weights = (
        compute_sample_weight("balanced", labels)
        if strategy == "class_weights"
        else np.ones(len(labels))
    )
    return sparse.csr_matrix(train_features), np.asarray(labels, dtype=object), weights
