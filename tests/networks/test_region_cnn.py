"""The region-embedding CNN computes Johnson & Zhang's bow-CNN: each token's region is the sum of
its words' embeddings, max-pooled over real tokens only. The shared network checks (fit, seed,
early stopping, MLflow round trip) run on it through ``SMALL`` in tests/networks/conftest.py."""

from __future__ import annotations

import pytest
import torch

from sentiment_mlops.networks import RegionCNNClassifier
from sentiment_mlops.networks.architectures import RegionCNNNet
from tests.networks.conftest import small_model

PAD = 0


def _net(region_size: int) -> RegionCNNNet:
    torch.manual_seed(0)
    net = RegionCNNNet(
        vocab_size=12,
        n_classes=3,
        embedding_dim=8,
        region_size=region_size,
        dropout=0.0,
        pad_id=PAD,
    )
    with torch.no_grad():
        net.bias.normal_()  # a non-zero bias, so a wrong region cannot hide behind the ReLU
    return net.eval()


def _by_hand(net: RegionCNNNet, tokens: list[int]) -> torch.Tensor:
    """The definition, one token at a time: region = sum of the embeddings of the words
    within the window centred on the token (none beyond the text), ReLU, max over tokens."""
    left = (net.region_size - 1) // 2
    regions = []
    for position in range(len(tokens)):
        window = range(position - left, position - left + net.region_size)
        words = [tokens[i] for i in window if 0 <= i < len(tokens)]
        regions.append(torch.relu(net.embedding.weight[words].sum(0) + net.bias))
    return net.head(torch.stack(regions).amax(0))


@pytest.mark.unit
@pytest.mark.parametrize("region_size", [1, 2, 3, 5])
def test_logits_are_the_max_over_tokens_of_summed_region_embeddings(region_size):
    net = _net(region_size)
    texts = [[3, 5, 7, 2, 9], [4, 11]]  # the second is padded to the first's length
    ids = torch.tensor([texts[0], [*texts[1], PAD, PAD, PAD]])
    mask = ids != PAD
    with torch.no_grad():
        logits = net(ids, mask)
        for row, tokens in enumerate(texts):
            torch.testing.assert_close(logits[row], _by_hand(net, tokens))


@pytest.mark.unit
def test_padding_does_not_change_a_texts_logits():
    net = _net(3)
    alone = torch.tensor([[4, 11, 6]])
    padded = torch.tensor([[4, 11, 6, PAD, PAD, PAD, PAD]])
    with torch.no_grad():
        torch.testing.assert_close(
            net(alone, alone != PAD), net(padded, padded != PAD), rtol=0, atol=1e-6
        )


@pytest.mark.integration
def test_word_order_matters_within_a_region_of_three_but_not_of_one(airline_texts):
    texts, labels = airline_texts["train_text"][:300], airline_texts["train_label"][:300]
    models = {
        size: small_model("region_cnn", region_size=size, max_epochs=2).fit(texts, labels)
        for size in (1, 3)
    }
    text, shuffled = "not good at all , late", "good at late all , not"
    one, three = (models[size].predict_proba([text, shuffled]) for size in (1, 3))
    torch.testing.assert_close(torch.tensor(one[0]), torch.tensor(one[1]))  # a bag of words
    assert not torch.allclose(torch.tensor(three[0]), torch.tensor(three[1]))


@pytest.mark.integration
@pytest.mark.parametrize("region_size", [0, -1, 2.5, True])
def test_a_bad_region_size_is_a_clear_error(region_size, airline_texts):
    texts, labels = airline_texts["train_text"][:60], airline_texts["train_label"][:60]
    model = RegionCNNClassifier(region_size=region_size, max_epochs=1, verbose=False)
    with pytest.raises(ValueError, match="region_size=.* must be a whole number of words"):
        model.fit(texts, labels)


@pytest.mark.integration
def test_takes_the_lexicon_inputs(airline_texts):
    texts, labels = airline_texts["train_text"][:200], airline_texts["train_label"][:200]
    model = small_model("region_cnn", lexicon="vader", max_epochs=1).fit(texts, labels)
    network = model.named_steps["classifier"]
    assert network.module_.valence is not None
    assert model.predict_proba(texts[:5]).shape == (5, 3)
