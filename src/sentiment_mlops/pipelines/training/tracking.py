"""What each candidate leaves behind: its validation scores, its row of the comparison table,
its nested MLflow run, and the ranking of all rows.

Every candidate, cross-validated or not, is ranked on the same validation split.
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline

from sentiment_mlops.metrics import compute_metrics, predict_test_split
from sentiment_mlops.pipelines.training.candidates import CandidatePlan
from sentiment_mlops.pipelines.training.search import CV_SCORING, CandidateFit


def score_on_validation(
    model: ImbPipeline, validation_split: pd.DataFrame
) -> tuple[dict[str, float], float]:
    """Validation metrics (prefixed ``val_``) and prediction throughput in rows per second."""
    started = time.perf_counter()
    predictions = predict_test_split(model, validation_split)
    throughput = len(validation_split) / max(time.perf_counter() - started, 1e-9)
    metrics = {f"val_{metric}": value for metric, value in compute_metrics(predictions).items()}
    return metrics, throughput


def cv_summary(cv_results: dict[str, Any] | None, best_index: int | None) -> dict[str, float]:
    """Mean and standard deviation over the folds of every metric, for the best parameters.

    Empty for a candidate that was not cross-validated (its cv_* columns stay blank).
    """
    if cv_results is None or best_index is None:
        return {}
    summary = {}
    for metric in CV_SCORING:
        summary[f"cv_{metric}_mean"] = float(cv_results[f"mean_test_{metric}"][best_index])
        summary[f"cv_{metric}_std"] = float(cv_results[f"std_test_{metric}"][best_index])
    summary["cv_mean_fit_time_s"] = float(cv_results["mean_fit_time"][best_index])
    return summary


def cv_results_table(cv_results: dict[str, Any]) -> pd.DataFrame:
    """``cv_results_`` as a table whose object cells (samplers, tuples) are readable strings."""
    table = pd.DataFrame(cv_results)
    for column in table.columns:
        if table[column].dtype == object:
            table[column] = table[column].map(str)
    return table


def comparison_row(
    plan: CandidatePlan,
    fitted: CandidateFit,
    validation_metrics: dict[str, float],
    throughput: float,
) -> dict[str, Any]:
    """The candidate's row of the comparison table (``mlflow_run_id`` is added by its run)."""
    return {
        "model": plan.name,
        "estimator": plan.estimator,
        "best_params": json.dumps(fitted.params, default=str, sort_keys=True),
        "grid_size": fitted.grid_size,
        "cv_folds": plan.search["cv_folds"],
        **cv_summary(fitted.cv_results, fitted.best_index),
        **validation_metrics,
        "fit_time_s": float(fitted.fit_time_s),
        "search_time_s": float(fitted.search_time_s),
        "predict_rows_per_s": float(throughput),
    }


def log_candidate_run(plan: CandidatePlan, fitted: CandidateFit, row: dict[str, Any]) -> None:
    """Params, CV and validation metrics and ``cv_results_`` of a candidate, in its MLflow run."""
    mlflow.log_param("estimator", plan.estimator)
    mlflow.log_param("input", plan.input)
    mlflow.log_params({key: str(value) for key, value in fitted.params.items()})
    mlflow.log_metrics({key: value for key, value in row.items() if isinstance(value, int | float)})
    if fitted.cv_results is not None:
        mlflow.log_table(cv_results_table(fitted.cv_results), "cv_results.json")


def rank_candidates(comparison: pd.DataFrame) -> pd.DataFrame:
    """Sort by validation macro-F1 (best first; ties keep the configured order), add ``rank``."""
    ranked = comparison.sort_values("val_macro_f1", ascending=False, kind="stable")
    return ranked.assign(rank=np.arange(1, len(ranked) + 1)).reset_index(drop=True)
