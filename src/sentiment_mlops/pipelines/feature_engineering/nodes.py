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

from sentiment_mlops.estimator_spec import SAMPLER_STEP, parse_grid
from sentiment_mlops.features import build_vectorizer, imbalance_strategies, sampler_step

logger = logging.getLogger(__name__)


def build_feature_pipeline(vectorizer: dict[str, Any], imbalance: dict[str, Any]) -> ImbPipeline:
    """The unfitted ``(vectorizer, sampler)`` steps every candidate starts from.

    The sampler is the first of ``imbalance.strategy``; the search tries all of them.
    """
    first = imbalance_strategies(imbalance)[0]
    return ImbPipeline(
        [
            ("vectorizer", build_vectorizer(vectorizer)),
            (SAMPLER_STEP, sampler_step(first, imbalance.get("random_state"))),
        ]
    )


def build_feature_grid(
    feature_search: dict[str, list[Any]] | None, imbalance: dict[str, Any]
) -> dict[str, list[Any]]:
    """The feature part of the search space, shared by every candidate.

    ``sampler`` holds the samplers of ``imbalance.strategy``; ``feature_search`` adds
    vectorizer parameters such as ``vectorizer__word__ngram_range``.
    """
    if SAMPLER_STEP in (feature_search or {}):
        raise ValueError(
            "feature_search.sampler is not a setting: list the imbalance strategies to compare "
            "under imbalance.strategy instead."
        )
    random_state = imbalance.get("random_state")
    grid = parse_grid(
        {SAMPLER_STEP: imbalance_strategies(imbalance)},
        where="imbalance",
        random_state=random_state,
    )
    grid.update(parse_grid(feature_search, where="feature_search", random_state=random_state))
    logger.info("Feature search space: %s", grid)
    return grid
