"""Text vectorizers and class-imbalance strategies, built from configuration.

Shared by the feature_engineering pipeline and anything that builds a model from the same
parameters (the model comparison, benchmarks), so a vectorizer kind means one thing.
"""

from __future__ import annotations

from typing import Any

from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

VECTORIZER_KINDS = ("binary_bow", "counts", "tfidf", "word_char_ngrams")
IMBALANCE_STRATEGIES = ("none", "class_weights", "smote", "undersample")


def _word_options(options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    if "ngram_range" in options:
        options["ngram_range"] = tuple(options["ngram_range"])
    return options


def build_vectorizer(config: dict[str, Any]) -> TransformerMixin:
    """An unfitted vectorizer of ``config["kind"]`` with its ``word`` / ``char`` options."""
    kind = config.get("kind")
    word = _word_options(config.get("word", {}))
    if kind in ("binary_bow", "counts"):
        word.pop("sublinear_tf", None)  # a TF-IDF-only option
        return CountVectorizer(binary=kind == "binary_bow", **word)
    if kind == "tfidf":
        return TfidfVectorizer(**word)
    if kind == "word_char_ngrams":
        char = _word_options(config.get("char", {}))
        return FeatureUnion(
            [
                ("word", TfidfVectorizer(analyzer="word", **word)),
                ("char", TfidfVectorizer(analyzer="char_wb", **char)),
            ]
        )
    raise ValueError(
        f"Unknown vectorizer kind {kind!r}; set vectorizer.kind to one of {list(VECTORIZER_KINDS)}"
    )


def build_sampler(
    strategy: str, random_state: int | None = None
) -> SMOTE | RandomUnderSampler | None:
    """The imbalanced-learn resampler for ``strategy`` (``None`` when it does not resample)."""
    if strategy == "smote":
        return SMOTE(random_state=random_state)
    if strategy == "undersample":
        return RandomUnderSampler(random_state=random_state)
    if strategy in ("none", "class_weights"):
        return None
    raise ValueError(
        f"Unknown imbalance strategy {strategy!r}; choose one of {list(IMBALANCE_STRATEGIES)}"
    )
