"""The networks trained from scratch follow scikit-learn's conventions for text classifiers.

Tiny shapes and one epoch: the checks are about the estimator API, not about what it learns.
"""

from __future__ import annotations

import pytest

from sentiment_mlops.networks import (
    BiLSTMClassifier,
    RegionCNNClassifier,
    TransformerEncoderClassifier,
)
from tests.text_estimator_checks import parametrize_with_text_checks

pytestmark = pytest.mark.unit

TINY = {"max_epochs": 1, "vocab_size": 100, "min_frequency": 1, "device": "cpu", "verbose": False}


@parametrize_with_text_checks(
    [
        BiLSTMClassifier(embedding_dim=4, hidden_size=4, **TINY),
        BiLSTMClassifier(embedding_dim=4, hidden_size=4, lexicon="vader", **TINY),
        TransformerEncoderClassifier(d_model=4, nhead=1, num_layers=1, dim_feedforward=8, **TINY),
        RegionCNNClassifier(embedding_dim=4, **TINY),
    ]
)
def test_networks_follow_scikit_learn_conventions(estimator, check):
    check(estimator)
