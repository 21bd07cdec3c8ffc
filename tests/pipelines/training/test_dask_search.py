"""The model search on Dask (``search.backend: dask``): the same chosen parameters and the same
cross-validation scores as the local backend, on a real cluster on loopback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from distributed import Client, get_task_stream

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training.candidates import plan_candidate, plan_candidates
from sentiment_mlops.pipelines.training.search import fit_candidate
from tests.pipelines.training.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

TEST_TRAINING = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_training.yml").read_text())
# Under-sampling inside the folds: the imbalanced-learn step dask-ml's own search cannot take.
IMBALANCE = {"strategy": ["class_weights", "undersample"], "random_state": 0}


@pytest.fixture(scope="module")
def test_plans(base_parameters) -> dict:
    """conf/test's candidates (the small grids CI trains), with two imbalance strategies."""
    pipeline = build_feature_pipeline(base_parameters["vectorizer"], IMBALANCE)
    grid = build_feature_grid({}, IMBALANCE)
    return plan_candidates(TEST_TRAINING["candidates"], pipeline, grid, TEST_TRAINING["search"])


def test_dask_search_chooses_and_scores_as_the_local_one(
    test_plans, airline_splits, dask_scheduler
):
    train, _, _ = airline_splits
    with Client(dask_scheduler) as client:
        for name, plan in test_plans.items():
            local = fit_candidate(plan, train)
            with get_task_stream(client) as tasks:
                on_dask = replace(
                    plan, search={**plan.search, "backend": "dask", "scheduler": dask_scheduler}
                )
                remote = fit_candidate(on_dask, train)
            # The fits ran on the cluster's workers, not here.
            assert len(tasks.data) >= remote.grid_size * plan.search["cv_folds"], name
            assert remote.params == local.params, name
            for key in ("mean_test_f1_macro", "mean_test_accuracy", "split0_test_f1_macro"):
                np.testing.assert_array_equal(remote.cv_results[key], local.cv_results[key])
            texts = train["clean_text"]
            np.testing.assert_array_equal(
                remote.model.predict_proba(texts), local.model.predict_proba(texts)
            )


def test_without_a_scheduler_the_search_starts_a_local_cluster(base_parameters, airline_splits):
    train, _, _ = airline_splits
    pipeline = build_feature_pipeline(base_parameters["vectorizer"], IMBALANCE)
    plan = plan_candidate(
        TEST_TRAINING["candidates"]["complement_nb"],
        pipeline,
        build_feature_grid({}, IMBALANCE),
        {**TEST_TRAINING["search"], "backend": "dask", "scheduler": None},
        name="complement_nb",
    )
    fitted = fit_candidate(plan, train)
    assert fitted.cv_results["mean_test_f1_macro"].shape == (fitted.grid_size,)
    assert fitted.grid_size == 2  # the two imbalance strategies


def test_an_unknown_backend_is_a_clear_error(base_parameters):
    pipeline = build_feature_pipeline(base_parameters["vectorizer"], IMBALANCE)
    with pytest.raises(
        ValueError, match=r"search backend 'spark' is not one of \['local', 'dask'\]"
    ):
        plan_candidate(
            TEST_TRAINING["candidates"]["complement_nb"],
            pipeline,
            build_feature_grid({}, IMBALANCE),
            {**TEST_TRAINING["search"], "backend": "spark"},
            name="complement_nb",
        )
