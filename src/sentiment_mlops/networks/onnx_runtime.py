"""A fine-tuned transformer served by ONNX Runtime on CPU, optionally with int8 weights.

:class:`OnnxTextClassifier` takes a fitted :class:`~sentiment_mlops.networks.finetune.
TransformerFineTuneClassifier`, exports its network with ``torch.onnx.export`` (dynamic batch
and length), and with ``quantize=True`` quantizes the weights of its matrix products to int8
(``onnxruntime.quantization.quantize_dynamic``: activations are quantized on the fly, so no
calibration data is needed). Prediction runs no PyTorch code: the tokenizer, the ONNX model's
bytes and the classes are all it keeps, and all it pickles (not the network's weights).

Why: one text through PyTorch eager costs milliseconds of framework overhead per layer on a
CPU; ONNX Runtime fuses the layers, and int8 weights are 4x smaller and faster to multiply.
``benchmarks/serving.py --onnx-run`` measures it (benchmarks/results/onnx_runtime.md). Without
quantization the probabilities are PyTorch's to float precision; int8 changed 1.7 % of the
airline test labels (texts near a class boundary) and, since activations are quantized per
batch, a text's probabilities depend slightly on the texts it is batched with.
"""

from __future__ import annotations

import copy
import io
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from sentiment_mlops.estimators import replace_parts
from sentiment_mlops.networks.base import as_texts, tokenize

try:
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "ONNX Runtime inference needs the optional 'pretrained' dependencies (onnxruntime, "
        "onnx). Install them with: pip install -e '.[pretrained]'; in the Docker image, build "
        "it with --build-arg EXTRAS=pretrained"
    ) from error

#: The ONNX operator set the export targets (ONNX Runtime 1.31 runs 7..23).
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")


def export_network(network: Any) -> bytes:
    """The fitted network of ``network`` (a TransformerFineTuneClassifier) as ONNX bytes:
    inputs ``input_ids`` and ``attention_mask`` (int64, batch x tokens), output ``logits``."""
    import torch  # noqa: PLC0415 - only the export needs PyTorch, not prediction

    class _Logits(torch.nn.Module):
        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    module = _Logits(network.module_.model).eval()
    example = network.tokenizer_(["an example text", "two"], padding=True, return_tensors="pt")
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example["input_ids"], example["attention_mask"]),
            buffer,
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES},
                "logits": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, dynamic axes kept
        )
    return buffer.getvalue()


def quantize_int8(model: bytes) -> bytes:
    """``model`` with int8 weights in its matrix products (dynamic quantization), one scale per
    output channel: on a MiniLM fine-tuned on 400 tweets, per-channel scales cut the largest
    probability change on 300 others from 0.028 to 0.010 at the same speed."""
    with tempfile.TemporaryDirectory(prefix="onnx-int8-") as folder:
        source, target = Path(folder, "model.onnx"), Path(folder, "model.int8.onnx")
        source.write_bytes(model)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
        return target.read_bytes()


class OnnxTextClassifier(ClassifierMixin, BaseEstimator):
    """``network`` (a fitted TransformerFineTuneClassifier) run by ONNX Runtime.

    ``fit`` exports the network (nothing is learned: like ``FrozenEstimator``, it ignores its
    arguments); ``quantize`` makes the weights int8; ``num_threads`` is ONNX Runtime's
    intra-op thread count (1: a served model answers many requests at once, one core each);
    ``batch_size`` texts per run, grouped by length as the network does.

    Learned: ``classes_``, ``tokenizer_``, ``max_length_``, ``truncation_`` (the network's),
    ``onnx_model_`` (the bytes).
    Pickling keeps those, not the network: a loaded classifier runs no PyTorch code.
    """

    def __init__(
        self,
        network: Any = None,
        *,
        quantize: bool = True,
        num_threads: int = 1,
        batch_size: int = 32,
    ):
        self.network = network
        self.quantize = quantize
        self.num_threads = num_threads
        self.batch_size = batch_size

    def fit(self, X: Any = None, y: Any = None) -> OnnxTextClassifier:
        """Export the fitted ``network`` (``X`` and ``y`` are ignored)."""
        check_is_fitted(self.network, "module_")
        if not hasattr(self.network, "tokenizer_") or not hasattr(self.network.module_, "model"):
            raise TypeError(
                f"{type(self.network).__name__} is not a fine-tuned transformer: OnnxTextClassifier "
                "exports a fitted TransformerFineTuneClassifier."
            )
        model = export_network(self.network)
        self.onnx_model_ = quantize_int8(model) if self.quantize else model
        self.classes_ = self.network.classes_
        self.tokenizer_ = self.network.tokenizer_
        self.max_length_ = self.network.max_length_
        self.truncation_ = self.network.truncation
        self._start_session()
        return self

    def _start_session(self) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        self.session_ = onnxruntime.InferenceSession(
            self.onnx_model_, options, providers=["CPUExecutionProvider"]
        )

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``classes_`` order."""
        check_is_fitted(self, "onnx_model_")
        texts = as_texts(X)
        ids = tokenize(self.tokenizer_, texts, self.max_length_, self.truncation_)
        # Batches of similar lengths waste less padding; results go back in input order.
        order = np.argsort([len(row) for row in ids], kind="stable")
        probabilities = np.zeros((len(texts), len(self.classes_)))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer_.pad(
                {"input_ids": [ids[row] for row in rows]}, return_tensors="np"
            )
            (logits,) = self.session_.run(
                None,
                {name: batch[name].astype(np.int64) for name in INPUT_NAMES},
            )
            probabilities[rows] = softmax(logits, axis=1)
        return probabilities

    def predict(self, X: Iterable[str]) -> np.ndarray:
        """The most probable class of each text."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self):  # noqa: D105 - the input is text
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def __getstate__(self) -> dict[str, Any]:
        # Not the network (PyTorch weights) nor the session (not picklable): the ONNX bytes.
        state = dict(super().__getstate__())
        state.pop("session_", None)
        if "onnx_model_" in state:
            state["network"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "onnx_model_" in state:  # exported before truncation was a choice: the head
            state.setdefault("truncation_", "head")
        super().__setstate__(state)
        if "onnx_model_" in state:
            self._start_session()


def with_onnx_runtime(model: Any, *, quantize: bool) -> Any:
    """A copy of ``model`` whose fine-tuned transformers run on ONNX Runtime; everything else,
    in pipelines, votes and frozen wrappers at any depth, is left as it is."""
    from sentiment_mlops.networks.finetune import TransformerFineTuneClassifier  # noqa: PLC0415

    def convert(estimator: Any) -> Any:
        if isinstance(estimator, TransformerFineTuneClassifier):
            return OnnxTextClassifier(estimator, quantize=quantize).fit()
        return estimator

    return replace_parts(copy.deepcopy(model), convert)
