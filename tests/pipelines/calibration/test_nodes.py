"""The served model: ONNX Runtime only for fine-tuned transformers, everything else unchanged."""

from __future__ import annotations

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sentiment_mlops.pipelines.calibration.nodes import prepare_serving_model

pytestmark = pytest.mark.unit

TEXTS = ["great crew, thanks", "bag lost again", "boarding at 9", "so rude", "loved it", "gate 4"]
LABELS = ["positive", "negative", "neutral", "negative", "positive", "neutral"]


@pytest.fixture(scope="module")
def linear():
    return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(TEXTS, LABELS)


@pytest.mark.parametrize("runtime", ["eager", "onnx", "onnx_int8"])
def test_a_model_without_a_fine_tuned_transformer_is_served_as_it_is(linear, runtime):
    assert prepare_serving_model(linear, {"runtime": runtime}) is linear


def test_an_unknown_runtime_is_refused_with_the_choices(linear):
    with pytest.raises(ValueError, match=r"serving.runtime 'tensorrt' is not one of \['eager'"):
        prepare_serving_model(linear, {"runtime": "tensorrt"})
