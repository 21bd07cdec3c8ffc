"""The training pipeline: one namespaced modular pipeline per candidate model, one node per
vote of fitted candidates, then the comparison and the selection.

Each candidate ``<name>`` gets the nodes ``<name>.check_candidate`` and
``<name>.tune_candidate`` (its nested MLflow run), so kedro-viz shows every candidate,
``kedro run --namespaces <name>`` retrains one, and a parallel runner can fit several side
by side. The check nodes read only parameters and the feature steps, so they all run
before the first fit: one misconfigured candidate stops the run before anything is fitted.
A vote ``<name>.blend_candidates`` runs after its members, in the same run (their fitted
models are not stored, so ``--namespaces`` of a vote alone has nothing to mix).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, pipeline

from sentiment_mlops.pipelines.training.nodes import (
    check_candidate,
    compare_candidates,
    select_best_candidate,
    tune_candidate,
)
from sentiment_mlops.pipelines.training.votes import blend_candidates

# Parameters every candidate reads as they are (not under its namespace).
SHARED_PARAMETERS = {
    name: name for name in ("params:search", "params:imbalance", "params:cleaning")
}


def _named(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``function`` with its ``name`` argument bound, still showing the function's own name,
    docstring and type hints (which Kedro reads to validate parameters)."""
    return update_wrapper(partial(function, name=name), function)


def candidate_pipeline(name: str, parameter: str) -> Pipeline:
    """Check, tune and score the candidate ``name``, configured at ``params:<parameter>``."""
    template = Pipeline(
        [
            Node(
                _named(check_candidate, name),
                inputs={
                    "candidate": "params:candidate",
                    "feature_pipeline": "feature_pipeline",
                    "feature_grid": "feature_grid",
                    "search": "params:search",
                    "imbalance": "params:imbalance",
                },
                outputs="candidate_plan",
                name="check_candidate",
            ),
            Node(
                tune_candidate,
                inputs={
                    "plan": "candidate_plan",
                    "train_split": "train_split",
                    "validation_split": "validation_split",
                    "cleaning": "params:cleaning",
                },
                outputs=["candidate_model", "comparison_row"],
                name="tune_candidate",
            ),
        ]
    )
    return pipeline(
        template,
        namespace=name,
        inputs={"feature_pipeline", "feature_grid", "train_split", "validation_split"},
        # Outside the namespace without dots: Kedro reserves dotted names for namespaces.
        outputs={
            "candidate_model": f"{name}_candidate_model",
            "comparison_row": f"{name}_comparison_row",
        },
        parameters={"params:candidate": f"params:{parameter}", **SHARED_PARAMETERS},
    )


def vote_pipeline(name: str, members: Sequence[str]) -> Pipeline:
    """The soft vote ``name`` of the fitted candidates ``members``, configured at
    ``params:votes.<name>``: weights chosen on validation, its own nested run and row."""
    member_outputs = [
        dataset
        for member in members
        for dataset in (f"{member}_candidate_model", f"{member}_comparison_row")
    ]
    return Pipeline(
        [
            Node(
                _named(blend_candidates, name),
                inputs=[f"params:votes.{name}", "validation_split", *member_outputs],
                outputs=[f"{name}_candidate_model", f"{name}_comparison_row"],
                name="blend_candidates",
                namespace=name,
            )
        ]
    )


def create_pipeline(
    candidates: Mapping[str, str] | None = None,
    votes: Mapping[str, Sequence[str]] | None = None,
    **kwargs,
) -> Pipeline:
    """Tune every candidate (nested MLflow runs), blend the votes, rank all of them on
    validation, keep the best.

    ``candidates`` maps each candidate's name, in configured order, to where its
    configuration sits among the parameters (``candidates.<name>`` or
    ``extra_candidates.<name>``): ``pipeline_registry.configured_candidates`` reads it from
    the run's environment. ``votes`` maps each vote's name to its members (candidates), as
    ``pipeline_registry.configured_votes`` reads them from ``votes``.
    """
    if not candidates:
        raise ValueError(
            "The training pipeline needs the candidate models' names: pass "
            "create_pipeline(candidates={name: 'candidates.<name>', ...})."
        )
    votes = dict(votes or {})
    names = [*candidates, *votes]
    per_candidate = sum(
        (candidate_pipeline(name, parameter) for name, parameter in candidates.items()),
        Pipeline([]),
    ) + sum((vote_pipeline(name, members) for name, members in votes.items()), Pipeline([]))
    return Pipeline(
        [
            per_candidate,
            Node(
                compare_candidates,
                inputs=[f"{name}_comparison_row" for name in names],
                outputs="model_comparison",
                name="compare_candidates",
            ),
            Node(
                select_best_candidate,
                inputs={
                    "model_comparison": "model_comparison",
                    **{name: f"{name}_candidate_model" for name in names},
                },
                outputs="sentiment_model",
                name="select_best_candidate",
            ),
        ],
        tags="training",
    )
