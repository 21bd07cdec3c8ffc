"""The networks' optional lexicon inputs: which numbers reach the module, and that it reads them.

Quality, determinism and round trips of a network with ``lexicon="vader"`` are checked with the
other networks (``bilstm_lexicon`` in tests/networks/conftest.py's ``SMALL``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentiment_mlops.features import VaderLexiconFeatures
from sentiment_mlops.networks import BiLSTMClassifier, TransformerEncoderClassifier

pytestmark = pytest.mark.unit

TEXTS = [
    "great crew and a good flight",
    "awful delay and a rude crew",
    "the flight was ok",
    "great crew good flight",
    "awful flight rude delay",
    "the flight was ok",
]
LABELS = ["positive", "negative", "neutral", "positive", "negative", "neutral"]
# "Hate" never occurs in TEXTS: the word vocabulary maps it to [UNK], BPE splits it into pieces.
TEXT = "Hate the crew GREAT flight"
WORDS = ["hate", "the", "crew", "great", "flight"]
VALENCE = {"hate": -2.7, "great": 3.1}  # VADER's lexicon; every other word has none


def fitted(estimator, **params):
    return estimator(
        lexicon="vader", max_epochs=1, validation_fraction=0, verbose=False, **params
    ).fit(TEXTS, LABELS)


def pieces_per_word(tokens: list[str]) -> list[int]:
    """How many of ``tokens`` (lowercased subwords, in order) spell each of ``WORDS``."""
    counts, spelled, pieces = [], "", 0
    for token in tokens:
        spelled, pieces = spelled + token, pieces + 1
        if spelled == WORDS[len(counts)]:
            counts.append(pieces)
            spelled, pieces = "", 0
    assert len(counts) == len(WORDS), (tokens, counts)
    return counts


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        (BiLSTMClassifier, {"embedding_dim": 8, "hidden_size": 8, "tokenizer": "word"}),
        (TransformerEncoderClassifier, {"d_model": 8, "nhead": 2, "tokenizer": "bpe"}),
    ],
    ids=["word", "bpe"],
)
def test_each_token_carries_the_vader_valence_of_its_word(estimator, params):
    network = fitted(estimator, vocab_size=200, min_frequency=1, **params)
    texts = [TEXT, "ok", ""]
    ids, mask, inputs = network._batch(network._inputs(texts), np.arange(3), torch.device("cpu"))

    tokens = network.tokenizer_.encode(TEXT).tokens
    if params["tokenizer"] == "word":  # one token per word, "hate" an [UNK] with its valence
        assert tokens[0] == "[UNK]"
        pieces = [1] * len(WORDS)
    else:  # each subword of "hate" carries the valence of the whole word
        pieces = pieces_per_word(tokens)
        assert pieces[0] > 1
    expected = [
        VALENCE.get(word, 0.0) / 4 for word, n in zip(WORDS, pieces, strict=True) for _ in range(n)
    ]
    valence = inputs["valence"]
    assert valence.shape == ids.shape
    np.testing.assert_allclose(valence[0, : mask[0].sum()].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(valence[1, : mask[1].sum()].numpy(), 1.2 / 4, rtol=1e-6)  # "ok"
    assert not valence[~mask].any()  # padding carries no valence
    np.testing.assert_allclose(
        inputs["scores"].numpy(), VaderLexiconFeatures().transform(texts).toarray(), rtol=1e-6
    )


def test_the_network_reads_both_lexicon_inputs():
    network = fitted(BiLSTMClassifier, embedding_dim=8, hidden_size=8)
    ids, mask, inputs = network._batch(
        network._inputs(TEXTS), np.arange(len(TEXTS)), torch.device("cpu")
    )
    with torch.no_grad():
        logits = network.module_(ids, mask, **inputs)
        for name in ("valence", "scores"):
            changed = {**inputs, name: torch.zeros_like(inputs[name])}
            assert not torch.allclose(network.module_(ids, mask, **changed), logits), name


def test_without_a_lexicon_the_module_gets_only_ids_and_mask():
    network = BiLSTMClassifier(
        embedding_dim=8, hidden_size=8, max_epochs=1, validation_fraction=0, verbose=False
    ).fit(TEXTS, LABELS)
    assert network._batch(network._inputs(TEXTS), np.arange(2), torch.device("cpu"))[2] == {}
    assert not any(name.startswith("valence") for name in network.module_.state_dict())


def test_an_unknown_lexicon_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Unknown lexicon 'afinn'; use one of \['vader'\]"):
        BiLSTMClassifier(lexicon="afinn", verbose=False).fit(TEXTS, LABELS)
