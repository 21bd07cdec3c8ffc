"""The cross-validated grid search of one candidate, and its refit on the training split.

Each candidate is an ``imblearn`` pipeline ``(vectorizer, sampler, classifier)`` searched
with ``GridSearchCV`` on the training split's cleaned texts, so the vectorizer and any
resampling are fitted inside each fold and never see the fold they are scored on. The best
grid point is refitted on the whole training split and the stateless ``TextCleaner`` is put
in front: one fitted object from raw text to probabilities, the same object evaluation,
batch inference and the API use.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

from sentiment_mlops.networks import epoch_logging
from sentiment_mlops.pipelines.training.candidates import CandidatePlan
from sentiment_mlops.text_cleaning import TextCleaner

# Metrics cross-validated for every candidate; the search refits on macro-F1.
CV_SCORING = {
    "f1_macro": "f1_macro",
    "accuracy": "accuracy",
    "recall_macro": "recall_macro",
    "precision_macro": "precision_macro",
}
REFIT_METRIC = "f1_macro"


def build_search(plan: CandidatePlan) -> GridSearchCV:
    """A stratified-k-fold ``GridSearchCV`` over the plan's pipeline and grid.

    It does not refit: :func:`fit_candidate` refits the chosen grid point itself. The
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


def fit_candidate(plan: CandidatePlan, train_split: pd.DataFrame) -> CandidateFit:
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


def raw_text_model(cleaning: dict[str, Any], fitted: ImbPipeline) -> ImbPipeline:
    """Put the stateless cleaner in front of a pipeline fitted on cleaned texts."""
    return ImbPipeline([("cleaner", TextCleaner(**cleaning)), *fitted.steps])
