"""The configuration language for estimators and search grids.

An estimator is written as ``{estimator: <import path>, params: {...}}``; a parameter may
itself be such a spec (a wrapped or calibrated model) or a list of ``[name, spec]`` pairs
(an ensemble). A search grid maps pipeline parameters to lists of values. The
feature_engineering and training pipelines both read grids through :func:`parse_grid`, so
a grid entry means the same thing wherever it is written.
"""

from __future__ import annotations

from typing import Any

from kedro.utils import load_obj
from sklearn.base import BaseEstimator

from sentiment_mlops.features import sampler_step

# The imbalance step of every candidate pipeline: its grid values are strategy names.
SAMPLER_STEP = "sampler"


def build_value(value: Any) -> Any:
    """Turn nested ``{estimator: path, params: {...}}`` specs (in dicts / lists) into objects."""
    if isinstance(value, dict) and "estimator" in value:
        return build_estimator(value)
    if isinstance(value, list):
        built = [build_value(item) for item in value]
        # [name, estimator] pairs, as VotingClassifier / StackingClassifier take them.
        if len(built) == 2 and isinstance(built[0], str) and hasattr(built[1], "fit"):
            return tuple(built)
        return built
    return value


def build_estimator(model: dict[str, Any]) -> BaseEstimator:
    """An unfitted estimator from its import path and keyword parameters.

    A parameter may itself be ``{estimator: <path>, params: {...}}`` (a wrapped or calibrated
    model), or a list of ``[name, {estimator: ...}]`` pairs (an ensemble).
    """
    try:
        estimator_class = load_obj(model["estimator"])
    except (AttributeError, ImportError, ValueError) as error:
        raise ValueError(
            f"Cannot import estimator {model['estimator']!r} ({error}); "
            "give a full import path such as sklearn.linear_model.LogisticRegression."
        ) from error
    params = {name: build_value(value) for name, value in (model.get("params") or {}).items()}
    return estimator_class(**params)


def grid_value(name: str, value: Any, random_state: int | None) -> Any:
    """One grid value as the pipeline takes it.

    ``sampler`` values are imbalance strategy names; YAML has no tuples, so n-gram ranges
    come as lists and sklearn wants tuples; estimator specs become estimators.
    """
    if name == SAMPLER_STEP:
        return sampler_step(value, random_state)
    if name.endswith("ngram_range") and isinstance(value, list):
        return tuple(value)
    return build_value(value)


def parse_grid(
    grid: dict[str, Any] | None, *, where: str, random_state: int | None
) -> dict[str, list[Any]]:
    """A search grid from configuration: every entry a non-empty list of parsed values.

    ``where`` names the grid's place in the configuration, for the error message;
    ``random_state`` seeds the samplers that a ``sampler`` entry lists.
    """
    parsed: dict[str, list[Any]] = {}
    for name, values in (grid or {}).items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.{name} must be a non-empty list of values, got {values!r}.")
        parsed[name] = [grid_value(name, value, random_state) for value in values]
    return parsed
