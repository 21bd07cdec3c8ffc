"""Nodes of the training pipeline: tune every candidate model, compare them, keep the best.

Each candidate is an ``imblearn`` pipeline ``(vectorizer, sampler, classifier)`` tuned with
``GridSearchCV`` on the training split's cleaned texts, so the vectorizer and any resampling
are fitted inside each fold and never see the fold they are scored on. The best parameters
are refitted on the whole training split, the stateless ``TextCleaner`` is put in front,
and the result is scored on the raw validation texts: one fitted object from raw text to
probabilities, the same object evaluation, batch inference and the API use.

A candidate with ``input: text`` (the PyTorch networks of ``sentiment_mlops.models``) reads
the cleaned text itself: its vectorizer and sampler are ``"passthrough"`` and the shared
feature grid does not apply. A candidate's own ``search`` block overrides the shared search
options; ``cv_folds: 0`` skips cross-validation (one grid point, fitted once on the training
split), which is what the networks use: every fold would cost a whole training run. Every
candidate, cross-validated or not, is ranked on the same validation split.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline
from kedro.utils import load_obj
from sklearn.base import ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.utils import get_tags

from sentiment_mlops.models import epoch_logging
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

# What a candidate's classifier reads: the feature pipeline's output, or the cleaned text.
CANDIDATE_INPUTS = ("features", "text")
# The feature pipeline's steps: "passthrough" for a candidate that reads text.
FEATURE_STEPS = ("vectorizer", "sampler")


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


def candidate_input(candidate: dict[str, Any]) -> str:
    """``features`` (default: vectorizer -> sampler -> classifier) or ``text`` (the classifier
    reads the cleaned text; vectorizer and sampler are ``"passthrough"``)."""
    value = candidate.get("input", "features")
    if value not in CANDIDATE_INPUTS:
        raise ValueError(
            f"input: {value!r} is not one of {list(CANDIDATE_INPUTS)}; use `input: text` for a "
            "classifier that reads text (the networks of sentiment_mlops.models), or leave it out."
        )
    return value


def candidate_param_grid(
    candidate: dict[str, Any], feature_grid: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The feature grid shared by all candidates, overridden by the candidate's own ``grid``.

    A candidate that reads text has no vectorizer or sampler to tune: it gets its own grid
    only, and a grid entry for either step is an error.
    """
    reads_text = candidate_input(candidate) == "text"
    grid = {} if reads_text else dict(feature_grid)
    for name, values in (candidate.get("grid") or {}).items():
        step = name.split("__")[0]
        if reads_text and step in FEATURE_STEPS:
            raise ValueError(
                f"Grid entry {name!r} tunes the {step}, but this candidate reads text "
                "(`input: text`): its vectorizer and sampler are 'passthrough'. Remove the "
                "entry, or drop `input: text` if the classifier takes a feature matrix."
            )
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"Grid entry {name!r} must be a non-empty list of values, got {values!r}."
            )
        grid[name] = [_grid_value(name, value) for value in values]
    return grid


def candidate_search_options(candidate: dict[str, Any], search: dict[str, Any]) -> dict[str, Any]:
    """The shared ``search`` options with the candidate's own ``search`` block over them.

    ``cv_folds: 0`` means no cross-validation: the single grid point is fitted once.
    """
    own = candidate.get("search") or {}
    unknown = sorted(set(own) - set(search))
    if unknown:
        raise ValueError(
            f"Unknown search option(s) {unknown}: a candidate's `search` block may set "
            f"{sorted(search)}."
        )
    options = {**search, **own}
    folds = options["cv_folds"]
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0 or folds == 1:
        raise ValueError(
            f"cv_folds: {folds!r} must be 0 (no cross-validation: one grid point, fitted once) "
            "or a number of folds >= 2."
        )
    return options


def _reads_text(estimator: ClassifierMixin) -> bool:
    """Whether the estimator's sklearn tags say it takes texts, not a 2-D feature matrix."""
    tags = get_tags(estimator).input_tags
    return tags.string and not tags.two_d_array


def candidate_pipeline(candidate: dict[str, Any], feature_pipeline: ImbPipeline) -> ImbPipeline:
    """The unfitted ``(vectorizer, sampler, classifier)`` pipeline of one candidate."""
    classifier = build_estimator(candidate)
    reads_text = candidate_input(candidate) == "text"
    if _reads_text(classifier) and not reads_text:
        raise ValueError(
            f"{type(classifier).__name__} reads texts, not a feature matrix: add `input: text` "
            "to the candidate (its vectorizer and sampler then become 'passthrough')."
        )
    if reads_text and not _reads_text(classifier):
        raise ValueError(
            f"`input: text`, but {type(classifier).__name__} takes a feature matrix (its sklearn "
            "tags do not declare text input): remove `input: text` so that the vectorizer runs."
        )
    steps = (
        [(step, "passthrough") for step in FEATURE_STEPS]
        if reads_text
        else clone(feature_pipeline).steps
    )
    return ImbPipeline([*steps, ("classifier", classifier)])


@dataclass(frozen=True)
class CandidatePlan:
    """One candidate, checked and built before anything is fitted."""

    pipeline: ImbPipeline  # unfitted (vectorizer, sampler, classifier)
    grid: dict[str, list[Any]]
    search: dict[str, Any]  # the shared search options with the candidate's own over them


def plan_candidate(
    candidate: dict[str, Any],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
) -> CandidatePlan:
    """Build and check one candidate's pipeline, grid and search options."""
    plan = CandidatePlan(
        pipeline=candidate_pipeline(candidate, feature_pipeline),
        grid=candidate_param_grid(candidate, feature_grid),
        search=candidate_search_options(candidate, search),
    )
    points = len(ParameterGrid(plan.grid))
    if plan.search["cv_folds"] == 0 and points != 1:
        raise ValueError(
            f"cv_folds: 0 fits one grid point without cross-validation, but the grid has "
            f"{points}: give one value per grid entry, or cv_folds >= 2 to search them."
        )
    return plan


def build_search(plan: CandidatePlan) -> GridSearchCV:
    """A stratified-k-fold ``GridSearchCV`` over the plan's pipeline and grid.

    It does not refit: :func:`_fit_candidate` refits the chosen grid point itself. The
    pipeline is a copy, so settings made on the search (its fit cache) leave the plan alone.
    """
    folds = StratifiedKFold(
        n_splits=plan.search["cv_folds"], shuffle=True, random_state=plan.search["random_state"]
    )
    return GridSearchCV(
        clone(plan.pipeline),
        plan.grid,
        scoring=CV_SCORING,
        refit=False,
        cv=folds,
        n_jobs=plan.search["n_jobs"],
        verbose=plan.search.get("verbose", 1),
        error_score="raise",
    )


def all_candidates(
    candidates: dict[str, dict[str, Any]], extra_candidates: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """``candidates`` followed by ``extra_candidates`` (an environment's additions)."""
    extra = extra_candidates or {}
    clashes = sorted(set(candidates) & set(extra))
    if clashes:
        raise ValueError(
            f"{clashes} appear in both `candidates` and `extra_candidates`: give the extra "
            "candidates other names (or override `candidates` itself in the environment)."
        )
    merged = {**candidates, **extra}
    if not merged:
        raise ValueError("No candidate models configured: add some under `candidates`.")
    return merged


def plan_candidates(
    candidates: dict[str, dict[str, Any]],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
) -> dict[str, CandidatePlan]:
    """Every candidate's plan, so that a configuration error stops the run before any fit."""
    plans = {}
    for name, candidate in candidates.items():
        try:
            plans[name] = plan_candidate(candidate, feature_pipeline, feature_grid, search)
        except ValueError as error:
            raise ValueError(f"Candidate {name!r}: {error}") from error
        if candidate_input(candidate) == "text" and feature_grid:
            logger.info(
                "%s reads text: the feature search (%s) does not apply to it",
                name,
                ", ".join(feature_grid),
            )
    return plans


def _cv_summary(cv_results: dict[str, Any] | None, best_index: int | None) -> dict[str, float]:
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


@dataclass(frozen=True)
class CandidateFit:
    """A candidate refitted on the whole training split, with the evidence for its parameters."""

    model: ImbPipeline  # fitted on the training split's cleaned texts
    params: dict[str, Any]  # the grid point it was refitted with
    grid_size: int
    cv_results: dict[str, Any] | None  # None: not cross-validated (cv_folds: 0)
    best_index: int | None
    fit_time_s: float  # the refit on the whole training split
    search_time_s: float  # cross-validation and refit


def _fit_candidate(plan: CandidatePlan, train_split: pd.DataFrame) -> CandidateFit:
    """Cross-validate the plan's grid (unless ``cv_folds`` is 0), then refit the best point.

    The fits inside cross-validation log no per-epoch metrics, so a network's MLflow run
    shows only its final fit's epochs.
    """
    texts, labels = train_split["clean_text"], train_split["label"].to_numpy(dtype=object)
    started = time.perf_counter()
    cv_results, best_index = None, None
    if plan.search["cv_folds"]:
        grid_search = build_search(plan)
        with tempfile.TemporaryDirectory(prefix="search-") as cache, epoch_logging(False):
            # Grid points that differ only in the classifier reuse the fold's fitted vectorizer.
            grid_search.set_params(estimator__memory=cache)
            grid_search.fit(texts, labels)
        cv_results = grid_search.cv_results_
        # What GridSearchCV's refit would pick: rank 1 of the refit metric (first on ties).
        best_index = int(np.argmin(cv_results[f"rank_test_{REFIT_METRIC}"]))
        params = cv_results["params"][best_index]
    else:
        params = ParameterGrid(plan.grid)[0]
    model = clone(plan.pipeline).set_params(**clone(params, safe=False))
    refit_started = time.perf_counter()
    model.fit(texts, labels)
    finished = time.perf_counter()
    return CandidateFit(
        model=model,
        params=params,
        grid_size=len(ParameterGrid(plan.grid)),
        cv_results=cv_results,
        best_index=best_index,
        fit_time_s=finished - refit_started,
        search_time_s=finished - started,
    )


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
    candidate: dict[str, Any], fitted: CandidateFit, row: dict[str, Any]
) -> None:
    """Params, CV and validation metrics and ``cv_results_`` of a candidate, in its MLflow run."""
    mlflow.log_param("estimator", candidate["estimator"])
    mlflow.log_param("input", candidate_input(candidate))
    mlflow.log_params({key: str(value) for key, value in fitted.params.items()})
    mlflow.log_metrics({key: value for key, value in row.items() if isinstance(value, int | float)})
    if fitted.cv_results is not None:
        mlflow.log_table(cv_results_table(fitted.cv_results), "cv_results.json")


def _tune_candidate(  # noqa: PLR0913 - one candidate and the data it is fitted and scored on
    name: str,
    candidate: dict[str, Any],
    plan: CandidatePlan,
    *,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    cleaning: dict[str, Any],
) -> tuple[ImbPipeline, dict[str, Any]]:
    """Fit and score one candidate inside its own nested MLflow run; its model and table row."""
    folds = plan.search["cv_folds"]
    logger.info(
        "Tuning candidate %s (%s, %s)",
        name,
        candidate["estimator"],
        f"{folds}-fold CV" if folds else "one fit, no CV",
    )
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tag("candidate", name)
        fitted = _fit_candidate(plan, train_split)
        model = _raw_text_model(cleaning, fitted.model)
        validation_metrics, throughput = _score_on_validation(model, validation_split)
        row = {
            "model": name,
            "estimator": candidate["estimator"],
            "best_params": json.dumps(fitted.params, default=str, sort_keys=True),
            "grid_size": fitted.grid_size,
            "cv_folds": folds,
            **_cv_summary(fitted.cv_results, fitted.best_index),
            **validation_metrics,
            "fit_time_s": float(fitted.fit_time_s),
            "search_time_s": float(fitted.search_time_s),
            "predict_rows_per_s": float(throughput),
        }
        _log_candidate_run(candidate, fitted, row)
        row["mlflow_run_id"] = run.info.run_id
    cv = (
        f"CV {row['cv_f1_macro_mean']:.4f} ± {row['cv_f1_macro_std']:.4f}"
        if folds
        else "not cross-validated"
    )
    logger.info(
        "%s: validation macro-F1 %.4f (%s), search %.0f s",
        name,
        row["val_macro_f1"],
        cv,
        row["search_time_s"],
    )
    return model, row


def tune_candidates(  # noqa: PLR0913 - every input is a catalog entry or a parameter
    *,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    candidates: dict[str, dict[str, Any]],
    search: dict[str, Any],
    cleaning: dict[str, Any],
    extra_candidates: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, ImbPipeline], pd.DataFrame]:
    """Tune every candidate on the training split and score it on the validation split.

    ``extra_candidates`` join ``candidates`` (an environment adds models without repeating
    the others). Every candidate is checked before the first fit. Each one runs in its own
    nested MLflow run (a network logs its per-epoch metrics there).

    Returns the fitted raw-text models by candidate name, and the comparison table: one row
    per candidate with its best parameters, CV mean/std of each metric (blank when not
    cross-validated), validation metrics, refit time, prediction throughput and the id of
    its nested MLflow run.
    """
    configured = all_candidates(candidates, extra_candidates)
    plans = plan_candidates(configured, feature_pipeline, feature_grid, search)
    models, rows = {}, []
    for name, candidate in configured.items():
        models[name], row = _tune_candidate(
            name,
            candidate,
            plans[name],
            train_split=train_split,
            validation_split=validation_split,
            cleaning=cleaning,
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
