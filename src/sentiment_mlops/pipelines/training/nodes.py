"""Nodes of the training pipeline: tune every candidate model, compare them, keep the best.

Each candidate is an ``imblearn`` pipeline ``(vectorizer, sampler, classifier)`` tuned with
``GridSearchCV`` on the training split's cleaned texts, so the vectorizer and any resampling
are fitted inside each fold and never see the fold they are scored on. The best parameters
are refitted on the whole training split, the stateless ``TextCleaner`` is put in front,
and the result is scored on the raw validation texts: one fitted object from raw text to
probabilities, the same object evaluation, batch inference and the API use.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline
from kedro.utils import load_obj
from sklearn.base import ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sentiment_mlops.pipelines.evaluation.nodes import compute_metrics, predict_test_split
from sentiment_mlops.text_cleaning import TextCleaner

logger = logging.getLogger(__name__)

# Metrics cross-validated for every candidate; the search refits on macro-F1.
CV_SCORING = {
    "f1_macro": "f1_macro",
    "accuracy": "accuracy",
    "recall_macro": "recall_macro",
    "precision_macro": "precision_macro",
}
REFIT_METRIC = "f1_macro"


def _build_value(value: Any) -> Any:
    """Turn nested ``{estimator: path, params: {...}}`` specs (in dicts / lists) into objects."""
    if isinstance(value, dict) and "estimator" in value:
        return build_estimator(value)
    if isinstance(value, list):
        built = [_build_value(item) for item in value]
        # [name, estimator] pairs, as VotingClassifier / StackingClassifier take them.
        if len(built) == 2 and isinstance(built[0], str) and hasattr(built[1], "fit"):
            return tuple(built)
        return built
    return value


def build_estimator(model: dict[str, Any]) -> ClassifierMixin:
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
    params = {name: _build_value(value) for name, value in (model.get("params") or {}).items()}
    return estimator_class(**params)


def _grid_value(name: str, value: Any) -> Any:
    """YAML has no tuples: n-gram ranges in a grid come as lists and sklearn wants tuples."""
    if name.endswith("ngram_range") and isinstance(value, list):
        return tuple(value)
    return _build_value(value)


def candidate_param_grid(
    candidate: dict[str, Any], feature_grid: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The feature grid shared by all candidates, overridden by the candidate's own ``grid``."""
    grid = dict(feature_grid)
    for name, values in (candidate.get("grid") or {}).items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"Grid entry {name!r} must be a non-empty list of values, got {values!r}."
            )
        grid[name] = [_grid_value(name, value) for value in values]
    return grid


def build_search(
    candidate: dict[str, Any],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
) -> GridSearchCV:
    """A stratified-k-fold ``GridSearchCV`` over ``feature_pipeline`` + the candidate's classifier."""
    pipeline = ImbPipeline(
        [*clone(feature_pipeline).steps, ("classifier", build_estimator(candidate))]
    )
    folds = StratifiedKFold(
        n_splits=search["cv_folds"], shuffle=True, random_state=search["random_state"]
    )
    return GridSearchCV(
        pipeline,
        candidate_param_grid(candidate, feature_grid),
        scoring=CV_SCORING,
        refit=REFIT_METRIC,
        cv=folds,
        n_jobs=search["n_jobs"],
        verbose=search.get("verbose", 1),
        error_score="raise",
    )


def _cv_summary(cv_results: dict[str, Any], best_index: int) -> dict[str, float]:
    """Mean and standard deviation over the folds of every metric, for the best parameters."""
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


def _fit_candidate(  # noqa: PLR0913
    name: str,
    *,
    candidate: dict[str, Any],
    train_split: pd.DataFrame,
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
) -> GridSearchCV:
    """Run one candidate's search, caching vectorizer fits shared by its grid points."""
    grid_search = build_search(candidate, feature_pipeline, feature_grid, search)
    with tempfile.TemporaryDirectory(prefix=f"search-{name}-") as cache:
        # Grid points that differ only in the classifier reuse the fold's fitted vectorizer.
        grid_search.set_params(estimator__memory=cache)
        started = time.perf_counter()
        grid_search.fit(train_split["clean_text"], train_split["label"].to_numpy(dtype=object))
        grid_search.search_time_ = time.perf_counter() - started
    grid_search.best_estimator_.set_params(memory=None)
    return grid_search


def _raw_text_model(cleaning: dict[str, Any], fitted: ImbPipeline) -> ImbPipeline:
    """Put the stateless cleaner in front of a pipeline fitted on cleaned texts."""
    return ImbPipeline([("cleaner", TextCleaner(**cleaning)), *fitted.steps])


def _score_on_validation(
    model: ImbPipeline, validation_split: pd.DataFrame
) -> tuple[dict[str, float], float]:
    """Validation metrics (prefixed ``val_``) and prediction throughput in rows per second."""
    started = time.perf_counter()
    predictions = predict_test_split(model, validation_split)
    throughput = len(validation_split) / max(time.perf_counter() - started, 1e-9)
    metrics = {f"val_{metric}": value for metric, value in compute_metrics(predictions).items()}
    return metrics, throughput


def _log_candidate_run(
    name: str, candidate: dict[str, Any], grid_search: GridSearchCV, row: dict[str, Any]
) -> str:
    """One nested MLflow run per candidate: params, CV and validation metrics, cv_results_."""
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tag("candidate", name)
        mlflow.log_param("estimator", candidate["estimator"])
        mlflow.log_params({key: str(value) for key, value in grid_search.best_params_.items()})
        mlflow.log_metrics(
            {key: value for key, value in row.items() if isinstance(value, int | float)}
        )
        mlflow.log_table(cv_results_table(grid_search.cv_results_), "cv_results.json")
        return run.info.run_id


def tune_candidates(  # noqa: PLR0913 - every input is a catalog entry or a parameter
    *,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    candidates: dict[str, dict[str, Any]],
    search: dict[str, Any],
    cleaning: dict[str, Any],
) -> tuple[dict[str, ImbPipeline], pd.DataFrame]:
    """Tune every candidate on the training split and score it on the validation split.

    Returns the fitted raw-text models by candidate name, and the comparison table: one row
    per candidate with its best parameters, CV mean/std of each metric, validation metrics,
    refit time, prediction throughput and the id of its nested MLflow run.
    """
    if not candidates:
        raise ValueError("No candidate models configured: add some under `candidates`.")
    models, rows = {}, []
    for name, candidate in candidates.items():
        logger.info("Tuning candidate %s (%s)", name, candidate["estimator"])
        grid_search = _fit_candidate(
            name,
            candidate=candidate,
            train_split=train_split,
            feature_pipeline=feature_pipeline,
            feature_grid=feature_grid,
            search=search,
        )
        models[name] = _raw_text_model(cleaning, grid_search.best_estimator_)
        validation_metrics, throughput = _score_on_validation(models[name], validation_split)
        row = {
            "model": name,
            "estimator": candidate["estimator"],
            "best_params": json.dumps(grid_search.best_params_, default=str, sort_keys=True),
            "grid_size": len(grid_search.cv_results_["params"]),
            **_cv_summary(grid_search.cv_results_, grid_search.best_index_),
            **validation_metrics,
            "fit_time_s": float(grid_search.refit_time_),
            "search_time_s": float(grid_search.search_time_),
            "predict_rows_per_s": float(throughput),
        }
        row["mlflow_run_id"] = _log_candidate_run(name, candidate, grid_search, row)
        logger.info(
            "%s: validation macro-F1 %.4f (CV %.4f ± %.4f), search %.0f s",
            name,
            row["val_macro_f1"],
            row["cv_f1_macro_mean"],
            row["cv_f1_macro_std"],
            row["search_time_s"],
        )
        rows.append(row)
    return models, rank_candidates(pd.DataFrame(rows))


def rank_candidates(comparison: pd.DataFrame) -> pd.DataFrame:
    """Sort by validation macro-F1 (best first; ties keep the configured order), add ``rank``."""
    ranked = comparison.sort_values("val_macro_f1", ascending=False, kind="stable")
    return ranked.assign(rank=np.arange(1, len(ranked) + 1)).reset_index(drop=True)


def select_best_candidate(
    candidate_models: dict[str, ImbPipeline], model_comparison: pd.DataFrame
) -> ImbPipeline:
    """The candidate ranked first on validation macro-F1: the model evaluation tests."""
    best = model_comparison.loc[model_comparison["rank"] == 1, "model"].iloc[0]
    logger.info("Selected %s as sentiment_model", best)
    if mlflow.active_run() is not None:
        mlflow.set_tag("selected_model", best)
    return candidate_models[best]
