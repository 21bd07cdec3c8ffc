"""The model comparison end to end: `kedro run --env ci` of feature_engineering, training and
evaluation on small airline splits, tracked in a temporary MLflow store.

Asserts what a user looks at afterwards: one nested MLflow run per candidate (best params,
CV mean/std, fit time, throughput, cv_results_ table), the comparison table and plots as
files and as artifacts of the run, metrics.json of the selected model, and a registered
version of `sentiment` carrying `champion`.
"""

from __future__ import annotations

import json
import shutil

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from tests.pipelines.training.conftest import PROJECT_ROOT

CI_CANDIDATES = yaml.safe_load((PROJECT_ROOT / "conf/ci/parameters_training.yml").read_text())[
    "candidates"
]


@pytest.fixture
def project(tmp_path, monkeypatch, airline_splits, tracking_uri):
    """A copy of the project's configuration with the sampled splits as its model input."""
    shutil.copytree(
        PROJECT_ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # the package itself is installed; Kedro only checks the folder
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model_input = tmp_path / "data" / "05_model_input"
    model_input.mkdir(parents=True)
    for name, split in zip(("train", "validation", "test"), airline_splits, strict=True):
        split.to_parquet(model_input / f"{name}_split.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.integration
def test_model_search_logs_nested_runs_comparison_and_plots(project, tracking_uri):
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="ci") as session:
        session.run(pipeline_names=["feature_engineering", "training", "calibration", "evaluation"])

    client = MlflowClient(tracking_uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    parents = {run.data.tags["mlflow.parentRunId"] for run in children}
    assert len(parents) == 1, "every candidate should be nested under the one training run"
    parent_id = parents.pop()
    assert sorted(run.data.tags["candidate"] for run in children) == sorted(CI_CANDIDATES)
    for run in children:
        metrics = run.data.metrics
        for name in ("f1_macro", "accuracy", "recall_macro", "precision_macro"):
            assert 0 <= metrics[f"cv_{name}_mean"] <= 1 and metrics[f"cv_{name}_std"] >= 0
        assert metrics["fit_time_s"] > 0 and metrics["predict_rows_per_s"] > 0
        assert any(key.startswith("classifier__") for key in run.data.params)
        table = mlflow.load_table("cv_results.json", run_ids=[run.info.run_id])
        grid = CI_CANDIDATES[run.data.tags["candidate"]]["grid"]
        assert len(table) == len(next(iter(grid.values())))
        assert {"mean_test_f1_macro", "std_test_f1_macro", "mean_fit_time"} <= set(table.columns)

    comparison = pd.read_csv(project / "data/08_reporting/model_comparison.csv")
    assert sorted(comparison["model"]) == sorted(CI_CANDIDATES)
    assert comparison["val_macro_f1"].is_monotonic_decreasing
    assert list(comparison["rank"]) == list(range(1, len(CI_CANDIDATES) + 1))
    markdown = (project / "data/08_reporting/model_comparison.md").read_text()
    assert all(f"| {name} |" in markdown for name in CI_CANDIDATES)
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
    # tests/integration/test_kedro_run.py checks them on a real `kedro run`.
