"""The cross-validated grid search of one candidate, and its refit on the training split.

Each candidate is an ``imblearn`` pipeline ``(vectorizer, sampler, classifier)`` searched
with ``GridSearchCV`` on the training split's cleaned texts, so the vectorizer and any
resampling are fitted inside each fold and never see the fold they are scored on. The best
grid point is refitted on the whole training split and the stateless ``TextCleaner`` is put
in front: one fitted object from raw text to probabilities, the same object evaluation,
batch inference and the API use.

The fits run in this machine's processes (``search.backend: local``, joblib's default) or on a
Dask cluster (``search.backend: dask``) through joblib's ``dask`` backend, which runs the same
``GridSearchCV`` unchanged (imbalanced-learn's samplers included; dask-ml's own search does
not take them). The cluster is the scheduler at ``search.scheduler``, or, without one, a
``LocalCluster`` on loopback with one single-threaded worker per core. The training texts and
labels are scattered to the workers once per search, not sent with every fit.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

from sentiment_mlops.dask_cluster import dask_client
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

logger = logging.getLogger(__name__)


def uses_dask(search: dict[str, Any]) -> bool:
    """Whether the search runs on a Dask cluster (``search.backend: dask``)."""
    return search.get("backend", "local") == "dask"


@contextlib.contextmanager
def search_backend(search: dict[str, Any], *data: Any) -> Iterator[None]:
    """Run the ``GridSearchCV`` fits inside the block where ``search.backend`` says, with
    ``data`` (the texts and labels) scattered to a Dask cluster's workers once."""
    if not uses_dask(search):
        yield
        return
    with (
        dask_client(search.get("scheduler"), purpose="Model search"),
        joblib.parallel_backend("dask", scatter=list(data)),
    ):
        yield


def build_search(plan: CandidatePlan) -> GridSearchCV:
    """A stratified-k-fold ``GridSearchCV`` over the plan's pipeline and grid.

    It does not refit: :func:`fit_candidate` refits the chosen grid point itself. The
    pipeline is a copy, so settings made on the search (its fit cache) leave the plan alone.
    On Dask every fit is a task of the cluster (``n_jobs=-1``: as many at once as it has
    workers).
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
        n_jobs=-1 if uses_dask(plan.search) else plan.search["n_jobs"],
        verbose=plan.search.get("verbose", 1),
        error_score="raise",
    )


@dataclass(frozen=True)
class CandidateFit:
    """A candidate refitted on the whole training split, with the evidence for its parameters."""

    model: ImbPipeline  # fitted on the training split's cleaned texts (raw_text: as written)
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
    column = "text" if plan.input == "raw_text" else "clean_text"
    texts, labels = train_split[column], train_split["label"].to_numpy(dtype=object)
    started = time.perf_counter()
    cv_results, best_index = None, None
    if plan.search["cv_folds"]:
        grid_search = build_search(plan)
        with (
            tempfile.TemporaryDirectory(prefix="search-") as cache,
            epoch_logging(False),
            search_backend(plan.search, texts, labels),
        ):
            if not uses_dask(plan.search):  # a cluster's workers may not share this disk
                # Grid points that differ only in the classifier reuse the fold's vectorizer.
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


def raw_text_model(
    cleaning: dict[str, Any], fitted: ImbPipeline, candidate_input: str = "features"
) -> ImbPipeline:
    """Put the stateless cleaner in front of a pipeline fitted on cleaned texts; a candidate
    fitted on raw texts (``raw_text``) gets a ``"passthrough"`` cleaner, so that every model
    has the same steps."""
    cleaner = "passthrough" if candidate_input == "raw_text" else TextCleaner(**cleaning)
    return ImbPipeline([("cleaner", cleaner), *fitted.steps])
