"""Networks trained from scratch: a BiLSTM, a small Transformer encoder and a region-embedding CNN.

All three learn their tokenizer from the training split inside ``fit`` (nothing pretrained), so
they need no download and can sit in a pipeline after the ``TextCleaner``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentiment_mlops.networks.base import (
    LEXICON_SCORES,
    TokenValence,
    TorchTextClassifier,
    pool,
    pooled_size,
    truncate,
    with_scores,
)
from sentiment_mlops.networks.tokenization import PAD_TOKEN, train_tokenizer


class _TrainedTokenizerMixin:
    """``_fit_tokenizer`` / ``_encode`` over a ``tokenizers`` vocabulary learned in ``fit``."""

    def _fit_tokenizer(self, texts: Sequence[str]) -> None:
        self.tokenizer_ = train_tokenizer(
            texts, self.tokenizer, self.vocab_size, self.min_frequency
        )
        self.pad_id_ = self.tokenizer_.token_to_id(PAD_TOKEN)

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [
            truncate(encoding.ids, self.max_length, self.truncation)
            for encoding in self.tokenizer_.encode_batch(texts)
        ]

    def _token_words(self, texts: Sequence[str]) -> list[list[str]]:
        # The pre-tokenizer's word around each token, read from the text itself: a subword
        # gets its whole word, and an [UNK] token the word it stands for.
        return [
            [
                text[slice(*encoding.word_to_chars(word))].lower()
                for word in truncate(encoding.word_ids, self.max_length, self.truncation)
            ]
            for text, encoding in zip(texts, self.tokenizer_.encode_batch(texts), strict=True)
        ]


class BiLSTMNet(nn.Module):
    """Embedding -> bidirectional LSTM -> pooling over real tokens -> linear.

    ``lexicon``: each token's valence joins its embedding (:class:`TokenValence`) and the
    sentence-level scores join the pooled states before the linear layer.
    """

    def __init__(  # noqa: PLR0913 - the network's shape
        self,
        *,
        vocab_size: int,
        n_classes: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pooling: str,
        pad_id: int,
        lexicon: bool = False,
    ):
        super().__init__()
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.valence = TokenValence(embedding_dim) if lexicon else None
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(
            pooled_size(2 * hidden_size, pooling) + (LEXICON_SCORES if lexicon else 0), n_classes
        )

    def forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        valence: torch.Tensor | None = None,
        scores: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lengths = mask.sum(dim=1).cpu()
        embedded = self.embedding(ids)
        if self.valence is not None:
            embedded = self.valence(embedded, valence)
        embedded = self.dropout(embedded)
        # Packing keeps the backward direction from reading the padding first.
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(
            self.lstm(packed)[0], batch_first=True, total_length=ids.shape[1]
        )
        return self.head(with_scores(self.dropout(pool(states, mask, self.pooling)), scores))


class TransformerNet(nn.Module):
    """Token + learned position embeddings -> pre-norm Transformer encoder -> pooling -> linear.

    ``lexicon``: as in :class:`BiLSTMNet`, valence into the token embeddings, scores into the head.
    """

    def __init__(  # noqa: PLR0913 - the network's shape
        self,
        *,
        vocab_size: int,
        n_classes: int,
        d_model: int,
        nhead: int,
        num_layers: int,
        dim_feedforward: int,
        dropout: float,
        max_length: int,
        pooling: str,
        pad_id: int,
        lexicon: bool = False,
    ):
        super().__init__()
        self.pooling = pooling
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.valence = TokenValence(d_model) if lexicon else None
        self.position_embedding = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(
            pooled_size(d_model, pooling) + (LEXICON_SCORES if lexicon else 0), n_classes
        )

    def forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        valence: torch.Tensor | None = None,
        scores: torch.Tensor | None = None,
    ) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        embedded = self.token_embedding(ids)
        if self.valence is not None:
            embedded = self.valence(embedded, valence)
        hidden = self.dropout(embedded + self.position_embedding(positions))
        hidden = self.norm(self.encoder(hidden, src_key_padding_mask=~mask))
        return self.head(with_scores(self.dropout(pool(hidden, mask, self.pooling)), scores))


class RegionCNNNet(nn.Module):
    """Bag-of-words region embeddings -> ReLU -> max pooling over real tokens -> linear.

    Johnson & Zhang's bow-CNN (2015, "Effective use of word order for text categorization with
    convolutional neural networks"): the region of ``region_size`` words centred on each token
    is embedded as the sum of its words' embeddings (a convolution over one-hot words whose
    weights are shared across the window), so a wide layer costs lookups and additions instead
    of matrix products, and trains on a CPU. ``lexicon``: as in :class:`BiLSTMNet`.
    """

    def __init__(  # noqa: PLR0913 - the network's shape
        self,
        *,
        vocab_size: int,
        n_classes: int,
        embedding_dim: int,
        region_size: int,
        dropout: float,
        pad_id: int,
        lexicon: bool = False,
    ):
        super().__init__()
        self.region_size = region_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        # Small weights: a region sums several embeddings before the ReLU.
        nn.init.normal_(self.embedding.weight, std=0.05)
        with torch.no_grad():
            self.embedding.weight[pad_id].zero_()
        self.bias = nn.Parameter(torch.zeros(embedding_dim))
        self.valence = TokenValence(embedding_dim) if lexicon else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim + (LEXICON_SCORES if lexicon else 0), n_classes)

    def forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        valence: torch.Tensor | None = None,
        scores: torch.Tensor | None = None,
    ) -> torch.Tensor:
        embedded = self.embedding(ids)
        if self.valence is not None:
            embedded = self.valence(embedded, valence)
        # Padding adds nothing to a region: its embedding is masked to zero.
        embedded = embedded * mask.unsqueeze(-1).to(embedded.dtype)
        left = (self.region_size - 1) // 2
        padded = nn.functional.pad(embedded, (0, 0, left, self.region_size - 1 - left))
        length = ids.shape[1]
        regions = sum(padded[:, offset : offset + length] for offset in range(self.region_size))
        hidden = torch.relu(regions + self.bias)
        return self.head(with_scores(self.dropout(pool(hidden, mask, "max")), scores))


class BiLSTMClassifier(_TrainedTokenizerMixin, TorchTextClassifier):
    """BiLSTM text classifier with a word vocabulary learned from the training texts.

    ``tokenizer`` is ``word`` (whole words; rarer than ``min_frequency`` become ``[UNK]``) or
    ``bpe`` (subwords, so misspellings share pieces); ``vocab_size`` bounds the vocabulary;
    ``pooling`` is ``max_mean`` (max and mean of the BiLSTM states), ``max`` or ``mean``;
    ``lexicon="vader"`` also feeds it each token's VADER valence and the five sentence-level
    VADER scores (see :mod:`sentiment_mlops.networks.base`; ``None``, the default, feeds none). See :class:`~sentiment_mlops.networks.base.TorchTextClassifier` for the training parameters.
    """

    _log_name = "bilstm"

    def __init__(  # noqa: PLR0913 - scikit-learn estimators list their parameters
        self,
        *,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.4,
        pooling: str = "max_mean",
        lexicon: str | None = None,
        tokenizer: str = "word",
        vocab_size: int = 20000,
        min_frequency: int = 2,
        max_length: int = 64,
        truncation: str = "head",
        batch_size: int = 32,
        max_epochs: int = 10,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        warmup_fraction: float = 0.05,
        class_weight: str | dict | None = "balanced",
        validation_fraction: float = 0.1,
        patience: int = 2,
        random_state: int | None = 42,
        device: str = "auto",
        num_threads: int | None = 1,
        verbose: bool = True,
        checkpoint_dir: str | None = None,
        checkpoint_minutes: float = 10.0,
    ):
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.pooling = pooling
        self.lexicon = lexicon
        self.tokenizer = tokenizer
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
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_minutes = checkpoint_minutes

    def _build_module(self) -> nn.Module:
        return BiLSTMNet(
            vocab_size=self.tokenizer_.get_vocab_size(),
            n_classes=len(self.classes_),
            embedding_dim=self.embedding_dim,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            pooling=self.pooling,
            pad_id=self.pad_id_,
            lexicon=self.lexicon is not None,
        )


class TransformerEncoderClassifier(_TrainedTokenizerMixin, TorchTextClassifier):
    """Small Transformer encoder trained from scratch on a BPE vocabulary of the training texts.

    ``d_model``, ``nhead``, ``num_layers``, ``dim_feedforward`` shape the encoder; ``pooling``
    is ``mean``, ``max`` or ``max_mean``; ``tokenizer`` is ``bpe`` (default) or ``word``;
    ``lexicon`` as for :class:`BiLSTMClassifier` (with BPE, each subword gets its word's valence). See
    :class:`~sentiment_mlops.networks.base.TorchTextClassifier` for the training parameters.
    """

    _log_name = "transformer"

    def __init__(  # noqa: PLR0913 - scikit-learn estimators list their parameters
        self,
        *,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.2,
        pooling: str = "mean",
        lexicon: str | None = None,
        tokenizer: str = "bpe",
        vocab_size: int = 8000,
        min_frequency: int = 2,
        max_length: int = 64,
        truncation: str = "head",
        batch_size: int = 32,
        max_epochs: int = 10,
        learning_rate: float = 5e-4,
        weight_decay: float = 1e-2,
        warmup_fraction: float = 0.1,
        class_weight: str | dict | None = "balanced",
        validation_fraction: float = 0.1,
        patience: int = 2,
        random_state: int | None = 42,
        device: str = "auto",
        num_threads: int | None = 1,
        verbose: bool = True,
        checkpoint_dir: str | None = None,
        checkpoint_minutes: float = 10.0,
    ):
        self.d_model = d_model
        self.nhead = nhead
        self.num_layers = num_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.pooling = pooling
        self.lexicon = lexicon
        self.tokenizer = tokenizer
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
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_minutes = checkpoint_minutes

    def _build_module(self) -> nn.Module:
        return TransformerNet(
            vocab_size=self.tokenizer_.get_vocab_size(),
            n_classes=len(self.classes_),
            d_model=self.d_model,
            nhead=self.nhead,
            num_layers=self.num_layers,
            dim_feedforward=self.dim_feedforward,
            dropout=self.dropout,
            max_length=self.max_length,
            pooling=self.pooling,
            pad_id=self.pad_id_,
            lexicon=self.lexicon is not None,
        )


class RegionCNNClassifier(_TrainedTokenizerMixin, TorchTextClassifier):
    """Region-embedding CNN (Johnson & Zhang's bow-CNN) on a word vocabulary of the training texts.

    ``embedding_dim`` is the width of the region embeddings (the number of filters);
    ``region_size`` the words per region (odd sizes centre each region on its token);
    ``lexicon`` and ``truncation`` as for :class:`BiLSTMClassifier`. Much cheaper per token than
    the BiLSTM, so it reads whole reviews on a CPU: on imdb (400 tokens, head + tail, 25k
    reviews) one epoch took ~185 s on 2 cores, against ~650 s for the BiLSTM on 256 tokens. See :class:`~sentiment_mlops.networks.base.TorchTextClassifier` for
    the training parameters.
    """

    _log_name = "region_cnn"

    def __init__(  # noqa: PLR0913 - scikit-learn estimators list their parameters
        self,
        *,
        embedding_dim: int = 500,
        region_size: int = 3,
        dropout: float = 0.5,
        lexicon: str | None = None,
        tokenizer: str = "word",
        vocab_size: int = 30000,
        min_frequency: int = 2,
        max_length: int = 64,
        truncation: str = "head",
        batch_size: int = 64,
        max_epochs: int = 6,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.0,
        warmup_fraction: float = 0.05,
        class_weight: str | dict | None = "balanced",
        validation_fraction: float = 0.1,
        patience: int = 2,
        random_state: int | None = 42,
        device: str = "auto",
        num_threads: int | None = 1,
        verbose: bool = True,
        checkpoint_dir: str | None = None,
        checkpoint_minutes: float = 10.0,
    ):
        self.embedding_dim = embedding_dim
        self.region_size = region_size
        self.dropout = dropout
        self.lexicon = lexicon
        self.tokenizer = tokenizer
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
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_minutes = checkpoint_minutes

    def _build_module(self) -> nn.Module:
        if isinstance(self.region_size, bool) or not (
            isinstance(self.region_size, int) and self.region_size >= 1
        ):
            raise ValueError(
                f"region_size={self.region_size!r} must be a whole number of words >= 1 "
                "(3 is Johnson & Zhang's setting)."
            )
        return RegionCNNNet(
            vocab_size=self.tokenizer_.get_vocab_size(),
            n_classes=len(self.classes_),
            embedding_dim=self.embedding_dim,
            region_size=self.region_size,
            dropout=self.dropout,
            pad_id=self.pad_id_,
            lexicon=self.lexicon is not None,
        )
