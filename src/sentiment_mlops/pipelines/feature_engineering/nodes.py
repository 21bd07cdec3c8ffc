"""Nodes of the feature_engineering pipeline.

The vectorizer and the imbalance handling are not fitted here once for all: they are the
first two steps of every candidate's ``imblearn`` pipeline, so ``GridSearchCV`` fits them on
the training part of each fold (and the final refit on the training split only). This
pipeline builds those steps and their search space from the parameters.
"""

from __future__ import annotations

import logging
from typing import Any

from imblearn.pipeline import Pipeline as ImbPipeline

from sentiment_mlops.features import build_sampler, build_vectorizer

logger = logging.getLogger(__name__)


def _sampler_step(strategy: str, random_state: int | None) -> Any:
    """The sampler of ``strategy``, or ``"passthrough"`` when it does not resample.

    ``class_weights`` resamples nothing: candidates weight classes with their own
    ``class_weight`` parameter.
    """
    return build_sampler(strategy, random_state) or "passthrough"


def build_feature_pipeline(vectorizer: dict[str, Any], imbalance: dict[str, Any]) -> ImbPipeline:
    """The unfitted ``(vectorizer, sampler)`` steps every candidate starts from."""
    return ImbPipeline(
        [
            ("vectorizer", build_vectorizer(vectorizer)),
            ("sampler", _sampler_step(imbalance["strategy"], imbalance.get("random_state"))),
        ]
    )


def build_feature_grid(
    feature_search: dict[str, list[Any]], imbalance: dict[str, Any]
) -> dict[str, list[Any]]:
    """The feature part of the search space, shared by every candidate.

    ``sampler`` lists imbalance strategies (none | class_weights | smote | undersample);
    other keys are vectorizer parameters such as ``vectorizer__word__ngram_range``.
    """
    grid: dict[str, list[Any]] = {}
    for name, values in (feature_search or {}).items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"feature_search.{name} must be a non-empty list of values, got {values!r}."
            )
        if name == "sampler":
            grid[name] = [_sampler_step(value, imbalance.get("random_state")) for value in values]
        elif name.endswith("ngram_range"):
            grid[name] = [tuple(value) for value in values]
        else:
            grid[name] = list(values)
    logger.info("Feature search space: %s", grid)
    return grid
