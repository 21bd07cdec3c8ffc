"""Soft votes of candidates that are already fitted, their weights chosen on the validation split.

A vote of a fine-tuned transformer and a linear model costs no training of its own: both are
fitted once as candidates, and only the mixing weights are left to choose. They are chosen on
the validation split, the split every candidate is ranked on, from a small grid (one weight
per member, summing to one).

Scored with the weights chosen on the same texts, a vote would rank above what it is worth
(on imdb: validation accuracy 0.927, test 0.919). So the vote's row of the comparison is
cross-fitted: each half of the validation split (stratified) is scored with the weights chosen
on the other half, and the vote the run keeps has the weights chosen on all of it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from sentiment_mlops.metrics import compute_metrics, scored_split
from sentiment_mlops.pipelines.training.candidates import FEATURE_STEPS
from sentiment_mlops.pipelines.training.tracking import score_on_validation

VOTE_ESTIMATOR = "sklearn.ensemble.VotingClassifier"
#: Parts of the validation split the vote's score is cross-fitted over (see the module docstring).
CROSS_FIT_FOLDS = 2

logger = logging.getLogger(__name__)


def check_votes(votes: Mapping[str, Any] | None, candidates: Sequence[str]) -> dict[str, Any]:
    """The configured votes but those set to null (left out of the run), each with at least two
    distinct members that are candidates of the run and a ``weight_step`` that divides 1; a
    clear error otherwise."""
    votes = {name: vote for name, vote in (votes or {}).items() if vote is not None}
    for name, vote in votes.items():
        where = f"Vote {name!r}"
        if name in candidates:
            raise ValueError(f"{where}: the name is also a candidate's; give the vote its own.")
        members = list((vote or {}).get("members") or [])
        if len(members) < 2 or len(set(members)) != len(members):  # noqa: PLR2004
            raise ValueError(
                f"{where}: `members` must list at least two different candidates, got {members}."
            )
        unknown = [member for member in members if member not in candidates]
        if unknown:
            raise ValueError(
                f"{where}: members {unknown} are not candidates of this run (candidates: "
                f"{list(candidates)}). A vote mixes candidates the run fits."
            )
        step = vote.get("weight_step", 0.1)
        steps = round(1 / step) if isinstance(step, int | float) and 0 < step <= 1 else 0
        if not steps or not np.isclose(steps * step, 1.0):
            raise ValueError(f"{where}: weight_step {step!r} must divide 1, such as 0.1 or 0.25.")
    return votes


def weight_grid(members: int, step: float) -> list[tuple[float, ...]]:
    """Every weighting of ``members`` in multiples of ``step`` that sums to one, most even first
    (so that among equal scores the most even weighting wins)."""
    steps = round(1 / step)
    grid = [
        tuple(count / steps for count in counts)
        for counts in itertools.product(range(steps + 1), repeat=members)
        if sum(counts) == steps
    ]
    return sorted(grid, key=lambda weights: float(np.ptp(weights)))


def soft_vote(
    members: Mapping[str, Any], weights: Sequence[float], validation_split: pd.DataFrame
) -> ImbPipeline:
    """A raw-text model whose probabilities are the weighted mean of the members' (fitted,
    left untouched); its steps have the names every candidate model has."""
    classes = [list(model.classes_) for model in members.values()]
    if any(member_classes != classes[0] for member_classes in classes):
        raise ValueError(
            f"The vote's members know different classes ({dict(zip(members, classes, strict=True))}): "
            "they must be trained on the same labels."
        )
    vote = VotingClassifier(
        [(name, FrozenEstimator(model)) for name, model in members.items()],
        voting="soft",
        weights=list(weights),
    )
    # Nothing is learned here (the members are frozen): fit only records the classes.
    vote.fit(
        validation_split["text"].to_numpy(dtype=object),
        validation_split["label"].to_numpy(dtype=object),
    )
    return ImbPipeline(
        [("cleaner", "passthrough"), *((step, "passthrough") for step in FEATURE_STEPS)]
        + [("classifier", vote)]
    )


def choose_weights(
    probabilities: Sequence[np.ndarray], truth: np.ndarray, classes: Sequence[Any], step: float
) -> pd.DataFrame:
    """Validation macro-F1 of every weighting of the members' probabilities, best first."""
    rows = []
    for weights in weight_grid(len(probabilities), step):
        mixed = mix(probabilities, weights)
        predicted = np.asarray(classes, dtype=object)[np.argmax(mixed, axis=1)]
        rows.append(
            {"weights": weights, "val_macro_f1": f1_score(truth, predicted, average="macro")}
        )
    table = pd.DataFrame(rows)
    return table.sort_values("val_macro_f1", ascending=False, kind="stable").reset_index(drop=True)


def mix(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The members' probabilities averaged with ``weights`` (which sum to one), as the vote's."""
    return sum(weight * member for weight, member in zip(weights, probabilities, strict=True))


def cross_fitted_probabilities(
    probabilities: Sequence[np.ndarray], truth: np.ndarray, classes: Sequence[Any], step: float
) -> np.ndarray | None:
    """The vote's probabilities for each text with the weights chosen on the other part of the
    validation split (:data:`CROSS_FIT_FOLDS` stratified parts); ``None`` when a class has too
    few texts to be in every part."""
    _, counts = np.unique(truth, return_counts=True)
    if counts.min() < CROSS_FIT_FOLDS:
        return None
    mixed = np.zeros_like(probabilities[0], dtype=float)
    folds = StratifiedKFold(CROSS_FIT_FOLDS, shuffle=True, random_state=0)
    for chosen_on, scored in folds.split(np.zeros(len(truth)), truth):
        search = choose_weights(
            [member[chosen_on] for member in probabilities], truth[chosen_on], classes, step
        )
        mixed[scored] = mix([member[scored] for member in probabilities], search.loc[0, "weights"])
    return mixed


def blend_candidates(
    vote: dict[str, Any],
    validation_split: pd.DataFrame,
    *members: Any,
    name: str,
) -> tuple[ImbPipeline, dict[str, Any]]:
    """The vote ``name`` of the fitted ``members`` (model, comparison row, alternately, in the
    order of ``vote["members"]``): weights chosen on validation, its nested MLflow run and its
    row of the comparison table, scored cross-fitted (see the module docstring)."""
    names = list(vote["members"])
    models = dict(zip(names, members[::2], strict=True))
    rows = dict(zip(names, members[1::2], strict=True))
    started = time.perf_counter()
    texts = validation_split["text"].to_numpy(dtype=object)
    probabilities = [model.predict_proba(texts) for model in models.values()]
    classes = list(next(iter(models.values())).classes_)
    truth = validation_split["label"].to_numpy(dtype=object)
    step = vote.get("weight_step", 0.1)
    search = choose_weights(probabilities, truth, classes, step)
    weights = search.loc[0, "weights"]
    model = soft_vote(models, weights, validation_split)
    cross_fitted = cross_fitted_probabilities(probabilities, truth, classes, step)
    search_time = time.perf_counter() - started
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tag("candidate", name)
        validation_metrics, throughput = score_on_validation(model, validation_split)
        if cross_fitted is None:
            logger.warning(
                "Vote %r: a class has fewer than %d validation texts, so the vote is scored "
                "with the weights chosen on the same texts, which flatters it.",
                name,
                CROSS_FIT_FOLDS,
            )
        else:
            # Chosen on all of validation, the weights would score them as the search did.
            mlflow.log_metric("in_sample_val_macro_f1", float(search.loc[0, "val_macro_f1"]))
            scored = scored_split(validation_split, cross_fitted, classes)
            validation_metrics = {
                f"val_{metric}": value for metric, value in compute_metrics(scored).items()
            }
        chosen = {"members": names, "weights": list(weights)}
        row = {
            "model": name,
            "estimator": VOTE_ESTIMATOR,
            "best_params": json.dumps(chosen, sort_keys=True),
            "grid_size": len(search),
            "cv_folds": 0,
            **validation_metrics,
            # What the vote costs to train: its members' fits (they are not fitted again).
            "fit_time_s": float(sum(member["fit_time_s"] for member in rows.values())),
            "search_time_s": float(search_time),
            "predict_rows_per_s": float(throughput),
        }
        mlflow.log_param("estimator", VOTE_ESTIMATOR)
        mlflow.log_param("input", "raw_text")
        mlflow.log_params(
            {f"weight_{member}": weight for member, weight in zip(names, weights, strict=True)}
        )
        mlflow.log_metrics(
            {key: value for key, value in row.items() if isinstance(value, int | float)}
        )
        mlflow.log_table(search.assign(weights=search["weights"].map(str)), "weight_search.json")
        row["mlflow_run_id"] = run.info.run_id
    return model, row
