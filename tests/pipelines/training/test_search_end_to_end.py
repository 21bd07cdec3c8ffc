"""The model comparison end to end: the session's trained project (`kedro run` with conf/test's
candidates on a small airline sample), tracked in a temporary MLflow store.

Asserts what a user looks at afterwards: one nested MLflow run per candidate (best params,
CV mean/std, fit time, throughput, cv_results_ table), the comparison table and plots as
files and as artifacts of the run, metrics.json of the selected model, and a registered
version of `sentiment` carrying `champion`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from tests.support.projects import PROJECT_ROOT

pytestmark = pytest.mark.integration

TEST_CANDIDATES = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_training.yml").read_text())[
    "candidates"
]


@pytest.fixture
def project(trained_model, monkeypatch) -> Iterator[Path]:
    """The session's trained project (conf/test's candidates), its MLflow store current."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
    mlflow.set_tracking_uri(trained_model.tracking_uri)
    mlflow.set_experiment("sentiment_mlops")  # mlflow.load_table looks in the active one
    yield trained_model.workdir
    mlflow.set_tracking_uri(None)  # later tests must not read (or write) this store


def test_model_search_logs_nested_runs_comparison_and_plots(project):
    client = MlflowClient()
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    parents = {run.data.tags["mlflow.parentRunId"] for run in children}
    assert len(parents) == 1, "every candidate should be nested under the one training run"
    parent_id = parents.pop()
    assert sorted(run.data.tags["candidate"] for run in children) == sorted(TEST_CANDIDATES)
    for run in children:
        metrics = run.data.metrics
        for name in ("f1_macro", "accuracy", "recall_macro", "precision_macro"):
            assert 0 <= metrics[f"cv_{name}_mean"] <= 1 and metrics[f"cv_{name}_std"] >= 0
        assert metrics["fit_time_s"] > 0 and metrics["predict_rows_per_s"] > 0
        assert any(key.startswith("classifier__") for key in run.data.params)
        table = mlflow.load_table("cv_results.json", run_ids=[run.info.run_id])
        grid = TEST_CANDIDATES[run.data.tags["candidate"]]["grid"]
        assert len(table) == len(next(iter(grid.values())))
        assert {"mean_test_f1_macro", "std_test_f1_macro", "mean_fit_time"} <= set(table.columns)

    comparison = pd.read_csv(project / "data/08_reporting/model_comparison.csv")
    assert sorted(comparison["model"]) == sorted(TEST_CANDIDATES)
    assert comparison["val_macro_f1"].is_monotonic_decreasing
    assert list(comparison["rank"]) == list(range(1, len(TEST_CANDIDATES) + 1))
    markdown = (project / "data/08_reporting/model_comparison.md").read_text()
    assert all(f"| {name} |" in markdown for name in TEST_CANDIDATES)
    for plot in ("model_f1", "fit_time_vs_score", "confusion_matrix", "roc_curves"):
        figure = json.loads((project / f"data/08_reporting/{plot}.json").read_text())
        assert figure["data"], f"{plot} has no traces"

    artifacts = {
        f"{folder}/{item.path.split('/')[-1]}"
        for folder in ("comparison", "plots")
        for item in client.list_artifacts(parent_id, folder)
    }
    assert {
        "comparison/model_comparison.csv",
        "comparison/model_comparison.md",
        "plots/model_f1.json",
        "plots/fit_time_vs_score.json",
    } <= artifacts
    parent = client.get_run(parent_id)
    assert parent.data.tags["selected_model"] == comparison.loc[0, "model"]

    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    assert {"accuracy", "macro_f1", "macro_recall", "negative_f1", "macro_roc_auc"} <= set(metrics)
    # Registration and the champion decision follow the packaged default pipeline only:
    # tests/test_kedro_run.py checks them on a real `kedro run`.


def test_one_candidate_retrains_alone_by_its_namespace(trained_model, tmp_path, tracking_uri):
    """`kedro run --namespaces nbsvm`: only that candidate's nodes run, from the stored
    feature steps and splits, in one nested MLflow run."""
    project = trained_model.copy(tmp_path / "project").workdir
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["feature_engineering"])
    with KedroSession.create(project_path=project) as session:
        outputs = session.run(pipeline_names=["training"], namespaces=["nbsvm"])

    assert set(outputs) == {"nbsvm_candidate_model", "nbsvm_comparison_row"}
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert [run.data.tags.get("candidate") for run in runs if "candidate" in run.data.tags] == [
        "nbsvm"
    ]
