"""PyTorch text classifiers written as scikit-learn estimators (the optional ``deep`` extra).

They take texts, not a feature matrix: in a pipeline they replace vectorizer + classifier,
``Pipeline([("cleaner", TextCleaner()), ("classifier", BiLSTMClassifier())])``.

- :class:`BiLSTMClassifier`: word vocabulary from the training split -> BiLSTM -> pooling.
- :class:`TransformerEncoderClassifier`: a BPE tokenizer trained on the training split -> a
  small Transformer encoder trained from scratch.
- :class:`RegionCNNClassifier`: word vocabulary from the training split -> bag-of-words region
  embeddings (Johnson & Zhang's bow-CNN) -> max pooling; cheap enough for whole reviews on a CPU.
- :class:`TransformerFineTuneClassifier`: fine-tunes a pretrained Hugging Face model
  (``model_name``), or a randomly initialised one built from ``model_config``.
- :class:`SentenceEmbeddingClassifier`: a linear model on the frozen sentence embeddings of a
  pretrained encoder (:class:`SentenceEncoder`; real weights offline from the ``pretrained``
  extra, checked by sha256: :mod:`sentiment_mlops.networks.pretrained`).

Classes are imported lazily, so ``sentiment_mlops.networks.architectures`` does not pay for
importing ``transformers``. Without the extra, importing them says how to install it.
:func:`epoch_logging` needs no extra: the training pipeline uses it whether torch is there or not.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Every network lives under this package: an estimator whose class (or import path in a
# candidate's ``estimator:``) starts with it is a network, and needs the ``deep`` extra.
MODULE_PREFIX = f"{__name__}."

_EXPORTS = {
    "BiLSTMClassifier": "sentiment_mlops.networks.architectures",
    "TransformerEncoderClassifier": "sentiment_mlops.networks.architectures",
    "RegionCNNClassifier": "sentiment_mlops.networks.architectures",
    "TransformerFineTuneClassifier": "sentiment_mlops.networks.finetune",
    "TorchTextClassifier": "sentiment_mlops.networks.base",
    "SentenceEncoder": "sentiment_mlops.networks.pretrained",
    "SentenceEmbeddingClassifier": "sentiment_mlops.networks.pretrained",
    "OnnxTextClassifier": "sentiment_mlops.networks.onnx_runtime",
}

__all__ = [
    "MODULE_PREFIX",
    "BiLSTMClassifier",
    "OnnxTextClassifier",
    "RegionCNNClassifier",
    "SentenceEmbeddingClassifier",
    "SentenceEncoder",
    "TorchTextClassifier",
    "TransformerEncoderClassifier",
    "TransformerFineTuneClassifier",
    "epoch_logging",
    "logs_epochs",
]

_LOG_EPOCHS: ContextVar[bool] = ContextVar("log_epochs", default=True)


@contextmanager
def epoch_logging(enabled: bool) -> Iterator[None]:
    """Turn the networks' per-epoch MLflow metrics on or off while this context is open.

    The model comparison turns them off for the fits inside cross-validation, so that a
    candidate's MLflow run holds one series per metric: the epochs of its final fit.
    """
    token = _LOG_EPOCHS.set(enabled)
    try:
        yield
    finally:
        _LOG_EPOCHS.reset(token)


def logs_epochs() -> bool:
    """Whether a network fitted now logs its per-epoch metrics to the active MLflow run."""
    return _LOG_EPOCHS.get()


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # The base module first: without torch it is the one that says how to install the extra.
    importlib.import_module(f"{__name__}.base")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
