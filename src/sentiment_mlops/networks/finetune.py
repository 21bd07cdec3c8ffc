"""Fine-tuning a Hugging Face ``transformers`` sequence classifier, as a scikit-learn estimator.

With ``model_name`` the tokenizer and the pretrained weights come from a packaged checkpoint
(``all-minilm-l6-v2``, offline), a local model directory, or the Hugging Face hub (for example
``distilroberta-base``; only where the hub is reachable). Without it, ``model_config``
describes a randomly initialised model (``model_type`` plus sizes) and a WordPiece tokenizer is
trained on the training texts (fast tests of the loop itself).
Both then go through the same ``AutoModelForSequenceClassification`` training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tokenizers import processors
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerFast,
)

from sentiment_mlops.networks.base import TorchTextClassifier, tokenize
from sentiment_mlops.networks.pretrained import resolve_checkpoint
from sentiment_mlops.networks.tokenization import (
    CLS_TOKEN,
    MASK_TOKEN,
    PAD_TOKEN,
    SEP_TOKEN,
    UNK_TOKEN,
    train_tokenizer,
)

#: ``max_length="auto"`` keeps this percentile of the training texts' token counts: the few
#: longer texts lose their tail, and every batch is shorter than with the model's 512.
AUTO_MAX_LENGTH_PERCENTILE = 99

#: A BERT small enough to train on a CPU in seconds; for tests and smoke runs, not for quality.
TINY_BERT_CONFIG: dict[str, Any] = {
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


class _SequenceClassifierAdapter(nn.Module):
    """Gives a ``transformers`` model the ``module(ids, mask) -> logits`` call of the base class."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=mask.long()).logits


class TransformerFineTuneClassifier(TorchTextClassifier):
    """Fine-tune ``AutoModelForSequenceClassification`` on labelled texts.

    ``model_name``: a hub id, a local directory of a pretrained model or the name of a packaged
    checkpoint (``all-minilm-l6-v2``: real weights, offline, checked by sha256, see
    :mod:`~sentiment_mlops.networks.pretrained`); ``None`` builds a
    randomly initialised model from ``model_config`` (default: a 2-layer BERT of width 32)
    with a WordPiece tokenizer of ``vocab_size`` entries trained on the training texts.
    ``max_length``: tokens kept per text, or ``"auto"``: the 99th percentile of the training
    texts' token counts (learned as ``max_length_``), at most what the model's positions allow.
    ``truncation``: how a longer text is cut, ``"head"`` (its start) or ``"head_tail"`` (its first
    and last halves: a review's verdict is often at its end; see
    :data:`~sentiment_mlops.networks.base.TRUNCATIONS`).
    ``max_train_texts``: fine-tune on at most that many of the training texts (a stratified,
    seeded sample), where all of them cost hours on CPU (IMDb's reviews).
    ``checkpoint_dir``: save the fit's progress there every ``checkpoint_minutes`` and after each
    epoch; fitting the same estimator on the same data again resumes where it stopped (a fit of
    hours on CPU loses at most ``checkpoint_minutes`` to a crash, a reboot or Ctrl-C).
    Other parameters as in :class:`~sentiment_mlops.networks.base.TorchTextClassifier`.

    Pickling keeps the model's config and weights, and the tokenizer: loading needs neither
    the hub nor the original ``model_name``.
    """

    _log_name = "finetune"
    _tokenizer_attributes = ("tokenizer_", "pad_id_", "max_length_")

    def __init__(  # noqa: PLR0913 - scikit-learn estimators list their parameters
        self,
        *,
        model_name: str | None = None,
        model_config: dict[str, Any] | None = None,
        vocab_size: int = 8000,
        min_frequency: int = 2,
        max_length: int | str = 128,
        truncation: str = "head",
        batch_size: int = 16,
        max_epochs: int = 3,
        learning_rate: float = 3e-5,
        weight_decay: float = 1e-2,
        warmup_fraction: float = 0.1,
        class_weight: str | dict | None = "balanced",
        validation_fraction: float = 0.1,
        patience: int = 1,
        max_train_texts: int | None = None,
        random_state: int | None = 42,
        device: str = "auto",
        num_threads: int | None = 1,
        checkpoint_dir: str | None = None,
        checkpoint_minutes: float = 10.0,
        verbose: bool = True,
    ):
        self.model_name = model_name
        self.model_config = model_config
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.max_length = max_length
        self.truncation = truncation
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_train_texts = max_train_texts
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_minutes = checkpoint_minutes
        self.verbose = verbose

    def _fit_tokenizer(self, texts: Sequence[str]) -> None:
        if self.model_name is not None:
            self.tokenizer_ = AutoTokenizer.from_pretrained(resolve_checkpoint(self.model_name))
        else:
            trained = train_tokenizer(
                texts,
                "wordpiece",
                self.vocab_size,
                self.min_frequency,
                special_tokens=(PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN),
            )
            # [CLS] text [SEP], as BERT-style pretrained tokenizers wrap a text.
            trained.post_processor = processors.TemplateProcessing(
                single=f"{CLS_TOKEN} $A {SEP_TOKEN}",
                special_tokens=[
                    (token, trained.token_to_id(token)) for token in (CLS_TOKEN, SEP_TOKEN)
                ],
            )
            self.tokenizer_ = PreTrainedTokenizerFast(
                tokenizer_object=trained,
                pad_token=PAD_TOKEN,
                unk_token=UNK_TOKEN,
                cls_token=CLS_TOKEN,
                sep_token=SEP_TOKEN,
                mask_token=MASK_TOKEN,
            )
        if self.tokenizer_.pad_token_id is None:  # GPT-style tokenizers have no pad token
            self.tokenizer_.pad_token = self.tokenizer_.eos_token
        self.pad_id_ = self.tokenizer_.pad_token_id
        self.max_length_ = self._fit_max_length(texts)
        if self.model_name is None:
            # Saved with the model, the limit bounds the length after a later from_pretrained.
            self.tokenizer_.model_max_length = self.max_length_

    def _fit_max_length(self, texts: Sequence[str]) -> int:
        """``max_length``, or with ``"auto"`` the percentile of the texts' token counts; never
        more than the pretrained model's position table (``model_max_length``) holds."""
        # A tokenizer trained here has no limit of its own (a huge model_max_length).
        limit = self.tokenizer_.model_max_length if self.model_name is not None else None
        if self.max_length == "auto":
            counts = [
                len(ids)
                for ids in self.tokenizer_(
                    list(texts), truncation=limit is not None, max_length=limit
                )["input_ids"]
            ]
            wanted = int(np.ceil(np.percentile(counts, AUTO_MAX_LENGTH_PERCENTILE)))
        elif isinstance(self.max_length, int) and not isinstance(self.max_length, bool):
            wanted = self.max_length
        else:
            wanted = 0
        if wanted < 2:  # noqa: PLR2004 - [CLS] and [SEP] alone
            raise ValueError(
                f"max_length={self.max_length!r}: give a number of tokens >= 2 or 'auto' (the "
                f"{AUTO_MAX_LENGTH_PERCENTILE}th percentile of the training texts' lengths)."
            )
        return wanted if limit is None else min(wanted, limit)

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return tokenize(self.tokenizer_, texts, self.max_length_, self.truncation)

    def _labels_config(self) -> dict[str, Any]:
        return {
            "num_labels": len(self.classes_),
            "id2label": dict(enumerate(self.classes_.tolist())),
            "label2id": {label: index for index, label in enumerate(self.classes_.tolist())},
        }

    def _init_module(self) -> nn.Module:
        if self.model_name is not None:
            model = AutoModelForSequenceClassification.from_pretrained(
                resolve_checkpoint(self.model_name), **self._labels_config()
            )
        else:
            settings = dict(TINY_BERT_CONFIG if self.model_config is None else self.model_config)
            model_type = settings.pop("model_type", None)
            if model_type is None:
                raise ValueError(
                    "model_config needs a 'model_type' (for example 'bert'), or give model_name."
                )
            config = AutoConfig.for_model(
                model_type,
                **settings,
                vocab_size=len(self.tokenizer_),
                pad_token_id=self.pad_id_,
                max_position_embeddings=max(self.max_length_, 8),
                **self._labels_config(),
            )
            model = AutoModelForSequenceClassification.from_config(config)
        self.model_config_ = model.config
        return _SequenceClassifierAdapter(model)

    def _build_module(self) -> nn.Module:
        # Rebuilt from the stored config on unpickling: no hub access, weights loaded after.
        return _SequenceClassifierAdapter(
            AutoModelForSequenceClassification.from_config(self.model_config_)
        )
