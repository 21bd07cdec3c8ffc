"""Nodes of the training pipeline: plan, tune and score each candidate, rank them, keep the best.

Each candidate has its own plan and tune nodes (a namespaced modular pipeline, see
``pipeline.py``); the comparison and the selection see all of them. The work lives in
``candidates`` (configuration checks), ``search`` (cross-validation and refit) and
``tracking`` (validation scores, MLflow runs, ranking).
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline

from sentiment_mlops.pipelines.training.candidates import (
    TEXT_INPUTS,
    CandidatePlan,
    plan_candidate,
)
from sentiment_mlops.pipelines.training.search import fit_candidate, raw_text_model
from sentiment_mlops.pipelines.training.tracking import (
    comparison_row,
    log_candidate_run,
    rank_candidates,
    score_on_validation,
)

logger = logging.getLogger(__name__)


def check_candidate(  # noqa: PLR0913 - one candidate and the settings it builds on
    candidate: dict[str, Any],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
    imbalance: dict[str, Any],
    *,
    name: str,
) -> CandidatePlan:
    """Check and build one candidate's pipeline, grid and search options (no fit)."""
    plan = plan_candidate(
        candidate,
        feature_pipeline,
        feature_grid,
        search,
        name=name,
        random_state=imbalance.get("random_state"),
    )
    if plan.input in TEXT_INPUTS and feature_grid:
        logger.info(
            "%s reads text: the feature search (%s) does not apply to it",
            name,
            ", ".join(feature_grid),
        )
    return plan


def tune_candidate(
    plan: CandidatePlan,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    cleaning: dict[str, Any],
) -> tuple[ImbPipeline, dict[str, Any]]:
    """Fit and score one candidate in its own nested MLflow run: its raw-text model and its
    row of the comparison table (a network logs its per-epoch metrics in that run)."""
    folds = plan.search["cv_folds"]
    logger.info(
        "Tuning candidate %s (%s, %s)",
        plan.name,
        plan.estimator,
        f"{folds}-fold CV" if folds else "one fit, no CV",
    )
    with mlflow.start_run(run_name=plan.name, nested=True) as run:
        mlflow.set_tag("candidate", plan.name)
        fitted = fit_candidate(plan, train_split)
        model = raw_text_model(cleaning, fitted.model, plan.input)
        row = comparison_row(plan, fitted, *score_on_validation(model, validation_split))
        log_candidate_run(plan, fitted, row)
        row["mlflow_run_id"] = run.info.run_id
    cv = (
        f"CV {row['cv_f1_macro_mean']:.4f} ± {row['cv_f1_macro_std']:.4f}"
        if folds
        else "not cross-validated"
    )
    logger.info(
        "%s: validation macro-F1 %.4f (%s), search %.0f s",
        plan.name,
        row["val_macro_f1"],
        cv,
        row["search_time_s"],
    )
    return model, row


def compare_candidates(*rows: dict[str, Any]) -> pd.DataFrame:
    """The comparison table: one row per candidate, in configured order, then ranked.

    Columns: best parameters, CV mean/std of each metric (blank when not cross-validated),
    validation metrics, refit time, prediction throughput, the nested MLflow run's id, rank.
    """
    return rank_candidates(pd.DataFrame(list(rows)))


def select_best_candidate(
    model_comparison: pd.DataFrame, **candidate_models: ImbPipeline
) -> ImbPipeline:
    """The candidate ranked first on validation macro-F1: the model evaluation tests."""
    best = model_comparison.loc[model_comparison["rank"] == 1, "model"].iloc[0]
    logger.info("Selected %s as sentiment_model", best)
    if mlflow.active_run() is not None:
        mlflow.set_tag("selected_model", best)
    return candidate_models[best]
