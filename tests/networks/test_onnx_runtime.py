"""The fine-tuned all-MiniLM-L6-v2 (real weights, one epoch on airline tweets) exported to ONNX
Runtime: float32 gives PyTorch's probabilities, int8 close to them at a quarter of the size,
and the exported classifier pickles without the PyTorch weights."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sentiment_mlops.networks import (
    BiLSTMClassifier,
    OnnxTextClassifier,
    TransformerFineTuneClassifier,
)
from sentiment_mlops.pipelines.calibration.nodes import prepare_serving_model


@pytest.fixture(scope="module")
def fine_tuned(airline_texts) -> TransformerFineTuneClassifier:
    return TransformerFineTuneClassifier(
        model_name="all-minilm-l6-v2",
        max_length="auto",
        max_epochs=1,
        batch_size=32,
        learning_rate=1e-4,
        validation_fraction=0,
        num_threads=2,
        verbose=False,
    ).fit(airline_texts["train_text"][:300], airline_texts["train_label"][:300])


@pytest.fixture(scope="module")
def held_out(airline_texts) -> list[str]:
    return airline_texts["test_text"][:150]


@pytest.mark.integration
def test_float32_export_gives_pytorchs_probabilities(fine_tuned, held_out):
    exported = OnnxTextClassifier(fine_tuned, quantize=False).fit()
    expected = fine_tuned.predict_proba(held_out)
    np.testing.assert_allclose(exported.predict_proba(held_out), expected, atol=1e-5)
    assert (exported.predict(held_out) == fine_tuned.predict(held_out)).all()
    assert list(exported.classes_) == list(fine_tuned.classes_)


@pytest.mark.integration
def test_the_export_cuts_long_texts_as_the_network_does(fine_tuned, held_out):
    """A network fine-tuned with head_tail truncation keeps it on ONNX Runtime, pickled too."""
    head_tail = copy.deepcopy(fine_tuned).set_params(truncation="head_tail")
    long_texts = [
        f"{first} {second}" for first, second in zip(held_out, held_out[::-1], strict=True)
    ]
    assert max(len(ids) for ids in fine_tuned.tokenizer_(long_texts)["input_ids"]) > (
        fine_tuned.max_length_
    )
    exported = pickle.loads(pickle.dumps(OnnxTextClassifier(head_tail, quantize=False).fit()))
    expected = head_tail.predict_proba(long_texts)
    np.testing.assert_allclose(exported.predict_proba(long_texts), expected, atol=1e-5)
    # The tail made a difference: the head alone gives other probabilities.
    assert np.abs(fine_tuned.predict_proba(long_texts) - expected).max() > 1e-2


@pytest.mark.integration
def test_int8_weights_are_a_quarter_of_the_size_and_close(fine_tuned, held_out):
    float32 = OnnxTextClassifier(fine_tuned, quantize=False).fit()
    int8 = OnnxTextClassifier(fine_tuned, quantize=True).fit()
    assert len(int8.onnx_model_) < 0.3 * len(float32.onnx_model_)
    expected = fine_tuned.predict_proba(held_out)
    quantized = int8.predict_proba(held_out)
    # Measured: largest change ~0.01, ~1 % of labels flip (texts near a class boundary).
    assert np.abs(quantized - expected).max() < 0.05
    assert (quantized.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.95
    np.testing.assert_allclose(quantized.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.integration
def test_the_exported_classifier_pickles_without_the_network(fine_tuned, held_out):
    exported = OnnxTextClassifier(fine_tuned, quantize=True).fit()
    restored = pickle.loads(pickle.dumps(exported))
    assert restored.network is None
    assert len(pickle.dumps(exported)) < 0.5 * len(pickle.dumps(fine_tuned))
    np.testing.assert_allclose(
        restored.predict_proba(held_out), exported.predict_proba(held_out), atol=1e-7
    )


@pytest.mark.unit
def test_only_a_fitted_fine_tuned_transformer_can_be_exported():
    with pytest.raises(NotFittedError):
        OnnxTextClassifier(TransformerFineTuneClassifier(), quantize=False).fit()
    other = BiLSTMClassifier(
        embedding_dim=4, hidden_size=4, max_epochs=1, validation_fraction=0, verbose=False
    )
    other.fit(["good", "bad", "fine", "awful"], ["positive", "negative", "positive", "negative"])
    with pytest.raises(TypeError, match="BiLSTMClassifier is not a fine-tuned transformer"):
        OnnxTextClassifier(other, quantize=False).fit()


@pytest.mark.integration
def test_a_vote_with_a_fine_tuned_member_is_served_on_onnx_runtime(
    fine_tuned, held_out, airline_texts
):
    """prepare_serving_model finds the transformer inside a vote of frozen pipelines, the way
    the training pipeline builds votes, and leaves the linear member and the original alone."""
    linear = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500)).fit(
        airline_texts["train_text"], airline_texts["train_label"]
    )
    vote = VotingClassifier(
        [
            ("transformer", FrozenEstimator(make_pipeline(fine_tuned))),
            ("linear", FrozenEstimator(linear)),
        ],
        voting="soft",
        weights=[0.6, 0.4],
    ).fit(held_out, fine_tuned.predict(held_out))
    served = prepare_serving_model(make_pipeline(vote), {"runtime": "onnx"})
    members = served[-1].estimators_
    assert isinstance(members[0].estimator[-1], OnnxTextClassifier)
    assert members[1].estimator is not linear and isinstance(
        members[1].estimator[-1], LogisticRegression
    )
    assert isinstance(vote.estimators_[0].estimator[-1], TransformerFineTuneClassifier)  # untouched
    np.testing.assert_allclose(
        served.predict_proba(held_out), vote.predict_proba(held_out), atol=1e-5
    )
