"""How the networks cut a text longer than ``max_length`` tokens (``truncation``)."""

from __future__ import annotations

import pytest

from sentiment_mlops.networks import (
    BiLSTMClassifier,
    RegionCNNClassifier,
    TransformerEncoderClassifier,
    TransformerFineTuneClassifier,
)
from sentiment_mlops.networks.base import tokenize, truncate
from sentiment_mlops.networks.finetune import TINY_BERT_CONFIG

pytestmark = pytest.mark.unit

TEXTS = ["great crew good flight", "awful delay rude crew"] * 3
LABELS = ["positive", "negative"] * 3
# Six words the word vocabulary knows: the first two and the last two are what head_tail keeps.
LONG = "great crew awful delay good flight"


@pytest.mark.parametrize(
    ("truncation", "max_length", "kept"),
    [
        ("head", 4, [0, 1, 2, 3]),
        ("head_tail", 4, [0, 1, 8, 9]),
        ("head_tail", 5, [0, 1, 7, 8, 9]),  # the odd token goes to the tail
        ("head_tail", 20, list(range(10))),  # short enough: nothing is cut
    ],
)
def test_truncate_keeps_the_head_or_the_head_and_the_tail(truncation, max_length, kept):
    assert truncate(list(range(10)), max_length, truncation) == kept


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        (BiLSTMClassifier, {"embedding_dim": 8, "hidden_size": 8, "tokenizer": "word"}),
        (TransformerEncoderClassifier, {"d_model": 8, "nhead": 2, "tokenizer": "word"}),
        (RegionCNNClassifier, {"embedding_dim": 8, "tokenizer": "word"}),
    ],
    ids=["bilstm", "transformer", "region_cnn"],
)
def test_head_tail_feeds_the_network_the_first_and_last_tokens_and_their_valences(
    estimator, params
):
    network = estimator(
        max_length=4,
        truncation="head_tail",
        lexicon="vader",
        min_frequency=1,
        max_epochs=1,
        validation_fraction=0,
        verbose=False,
        **params,
    ).fit(TEXTS, LABELS)
    vocabulary = network.tokenizer_.get_vocab()
    inputs = network._inputs([LONG])
    assert inputs.ids == [[vocabulary[word] for word in ("great", "crew", "good", "flight")]]
    # "awful" (valence < 0) was cut with its token; "great" and "good" (> 0) were kept with theirs.
    assert inputs.valence[0][0] > 0
    assert inputs.valence[0][1] == 0
    assert inputs.valence[0][2] > 0
    assert inputs.valence[0][3] == 0


def test_an_unknown_truncation_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"Unknown truncation 'tail'; use one of \['head', 'head_tail'\]"
    ):
        BiLSTMClassifier(truncation="tail", verbose=False).fit(TEXTS, LABELS)


def tiny_fine_tuned(truncation: str) -> TransformerFineTuneClassifier:
    """A 2-layer BERT of width 8 with a WordPiece vocabulary of TEXTS' words, 6 tokens a text."""
    return TransformerFineTuneClassifier(
        model_config={**TINY_BERT_CONFIG, "hidden_size": 8, "intermediate_size": 16},
        min_frequency=1,
        max_length=6,
        truncation=truncation,
        max_epochs=1,
        validation_fraction=0,
        verbose=False,
    ).fit(TEXTS, LABELS)


@pytest.mark.parametrize(
    ("truncation", "kept"),
    [("head", "great crew awful delay"), ("head_tail", "great crew good flight")],
)
def test_the_fine_tuned_transformer_cuts_between_its_special_tokens(truncation, kept):
    network = tiny_fine_tuned(truncation)
    (ids,) = network._encode([LONG])
    tokens = network.tokenizer_.convert_ids_to_tokens(ids)
    assert tokens == ["[CLS]", *kept.split(), "[SEP]"]
    # A text within max_length is left whole.
    assert network._encode(["good flight"]) == network.tokenizer_(["good flight"])["input_ids"]


def test_tokenize_refuses_an_unknown_truncation():
    network = tiny_fine_tuned("head")
    with pytest.raises(ValueError, match=r"Unknown truncation 'middle'"):
        tokenize(network.tokenizer_, [LONG], 6, "middle")
