"""The fine-tuning path, end to end on a tiny randomly initialised BERT (never the hub)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from sentiment_mlops.networks import TransformerFineTuneClassifier
from sentiment_mlops.networks.finetune import TINY_BERT_CONFIG
from sentiment_mlops.text_cleaning import TextCleaner
from tests.networks.conftest import majority_macro_f1
from tests.text_estimator_checks import parametrize_with_text_checks


@pytest.mark.integration
def test_tiny_random_model_trains_and_beats_the_majority_class(fine_tuned, airline_texts):
    network = fine_tuned.named_steps["classifier"]
    assert network.model_config_.model_type == "bert"
    assert network.model_config_.num_hidden_layers == TINY_BERT_CONFIG["num_hidden_layers"]
    assert network.model_config_.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    predicted = fine_tuned.predict(airline_texts["test_text"])
    macro_f1 = f1_score(airline_texts["test_label"], predicted, average="macro")
    assert macro_f1 > majority_macro_f1(airline_texts["train_label"], airline_texts["test_label"])


@pytest.mark.integration
def test_named_model_loads_pretrained_weights_and_tokenizer(fine_tuned, airline_texts, tmp_path):
    """``model_name`` goes through from_pretrained: here a local directory instead of the hub."""
    pretrained = fine_tuned.named_steps["classifier"]
    pretrained.module_.model.save_pretrained(tmp_path / "tiny")
    pretrained.tokenizer_.save_pretrained(tmp_path / "tiny")
    start = TransformerFineTuneClassifier(
        model_name=str(tmp_path / "tiny"), max_epochs=1, learning_rate=0.0, verbose=False
    )
    start.fit(airline_texts["train_text"][:200], airline_texts["train_label"][:200])
    # A zero learning rate leaves the loaded weights untouched: they are the saved ones.
    for key, value in pretrained.module_.state_dict().items():
        torch.testing.assert_close(start.module_.state_dict()[key], value)
    assert start.tokenizer_.get_vocab() == pretrained.tokenizer_.get_vocab()
    cleaned = TextCleaner().transform(airline_texts["test_text"][:20])
    np.testing.assert_allclose(
        start.predict_proba(cleaned), pretrained.predict_proba(cleaned), atol=1e-6
    )


@pytest.mark.unit
def test_model_config_without_model_type_is_a_clear_error():
    estimator = TransformerFineTuneClassifier(
        model_config={"hidden_size": 32}, validation_fraction=0, verbose=False
    )
    with pytest.raises(ValueError, match="needs a 'model_type'"):
        estimator.fit(["good flight", "bad flight"], ["positive", "negative"])


@pytest.mark.unit
@parametrize_with_text_checks(
    [
        TransformerFineTuneClassifier(
            model_config={**TINY_BERT_CONFIG, "hidden_size": 8, "intermediate_size": 16},
            vocab_size=100,
            min_frequency=1,
            max_epochs=1,
            device="cpu",
            verbose=False,
        )
    ]
)
def test_fine_tuning_follows_scikit_learn_conventions(estimator, check):
    check(estimator)


@pytest.mark.unit
def test_auto_max_length_keeps_the_99th_percentile_of_training_token_counts():
    texts = [" ".join(["word"] * count) for count in range(1, 101)]  # 1..100 words
    labels = ["positive", "negative"] * 50
    network = TransformerFineTuneClassifier(
        model_config={**TINY_BERT_CONFIG, "hidden_size": 8, "intermediate_size": 16},
        min_frequency=1,
        max_length="auto",
        max_epochs=1,
        validation_fraction=0,
        verbose=False,
    ).fit(texts, labels)
    counts = [len(ids) for ids in network.tokenizer_(texts)["input_ids"]]  # words + [CLS], [SEP]
    assert network.max_length_ == int(np.ceil(np.percentile(counts, 99)))
    assert max(len(ids) for ids in network._encode(texts)) == network.max_length_
    assert network.model_config_.max_position_embeddings == network.max_length_


@pytest.mark.unit
@pytest.mark.parametrize("max_length", ["long", 1, 0, True])
def test_a_max_length_that_is_not_a_length_is_a_clear_error(max_length):
    network = TransformerFineTuneClassifier(
        max_length=max_length, min_frequency=1, validation_fraction=0, verbose=False
    )
    with pytest.raises(ValueError, match=r"give a number of tokens >= 2 or 'auto'"):
        network.fit(["good flight", "bad flight"], ["positive", "negative"])


@pytest.mark.unit
def test_max_train_texts_trains_on_a_stratified_sample_of_the_training_part():
    texts = [f"good flight number {n}" for n in range(60)] + [f"bad {n}" for n in range(30)]
    labels = ["positive"] * 60 + ["negative"] * 30
    settings = {
        "model_config": {**TINY_BERT_CONFIG, "hidden_size": 8, "intermediate_size": 16},
        "min_frequency": 1,
        "max_epochs": 1,
        "validation_fraction": 0.2,
        "verbose": False,
    }
    everything = TransformerFineTuneClassifier(**settings).fit(texts, labels)
    sampled = TransformerFineTuneClassifier(**settings, max_train_texts=30).fit(texts, labels)
    assert everything.n_train_texts_ == 72  # 90 less the 18 held out for early stopping
    assert sampled.n_train_texts_ == 30
    # A limit above the training part changes nothing.
    assert (
        TransformerFineTuneClassifier(**settings, max_train_texts=500)
        .fit(texts, labels)
        .n_train_texts_
        == 72
    )


@pytest.mark.unit
@pytest.mark.parametrize("limit", [1, "many", 2.5])
def test_a_max_train_texts_that_is_not_a_count_is_a_clear_error(limit):
    network = TransformerFineTuneClassifier(
        max_train_texts=limit, min_frequency=1, validation_fraction=0, verbose=False
    )
    with pytest.raises(ValueError, match=r"max_train_texts=.*give a number of texts"):
        network.fit(["good flight", "bad flight", "great", "awful"] * 3, ["pos", "neg"] * 6)
