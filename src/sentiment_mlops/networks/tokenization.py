"""Tokenizers learned from the training texts with the ``tokenizers`` library."""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"

_MODELS = {
    "word": (models.WordLevel, trainers.WordLevelTrainer),
    "bpe": (models.BPE, trainers.BpeTrainer),
    "wordpiece": (models.WordPiece, trainers.WordPieceTrainer),
}


def train_tokenizer(
    texts: Sequence[str],
    kind: str,
    vocab_size: int,
    min_frequency: int,
    special_tokens: Sequence[str] = (PAD_TOKEN, UNK_TOKEN),
) -> Tokenizer:
    """Learn a ``word`` (whole words), ``bpe`` or ``wordpiece`` vocabulary from ``texts``.

    Texts are NFKC-normalised and lowercased, then split on whitespace and punctuation,
    so raw and cleaned texts both work. Special tokens get the first ids, in order
    (``[PAD]`` is 0). Words never seen in training map to ``[UNK]`` (``word``) or to
    known subwords (``bpe``, ``wordpiece``).
    """
    if kind not in _MODELS:
        raise ValueError(f"Unknown tokenizer kind {kind!r}; choose one of {sorted(_MODELS)}.")
    model_class, trainer_class = _MODELS[kind]
    tokenizer = Tokenizer(model_class(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainer_class(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer
