"""The lexicon features follow scikit-learn's conventions for a transformer that reads text."""

from __future__ import annotations

import pytest

from sentiment_mlops.features import VaderLexiconFeatures
from tests.text_estimator_checks import parametrize_with_text_checks

pytestmark = pytest.mark.unit


@parametrize_with_text_checks([VaderLexiconFeatures()])
def test_lexicon_features_follow_scikit_learn_conventions(estimator, check):
    check(estimator)
