"""End to end: `kedro run` as a user types it (the session's trained project: a 1,500-tweet
sample, conf/test's candidates), tracked in a real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from tests.support.projects import kedro

pytestmark = pytest.mark.integration


METRIC_KEYS = {"accuracy", "macro_precision", "macro_recall", "macro_f1"} | {
    f"{name}_{metric}"
    for name in ("negative", "neutral", "positive")
    for metric in ("precision", "recall", "f1")
}


@pytest.fixture(scope="module")
def sample_project(trained_model, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A private copy of the session's trained project: the tests below run pipelines in it."""
    project = trained_model.copy(tmp_path_factory.mktemp("kedro_run") / "project")
    return project.workdir, project.env()


@pytest.fixture(scope="module")
def default_run(sample_project) -> Path:
    """The project after its `kedro run` (the one that trained the session's model)."""
    project, _ = sample_project
    return project


def test_metrics_json_has_every_documented_key(default_run):
    project = default_run
    metrics = json.loads((project / "data" / "08_reporting" / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert all(isinstance(value, float) and 0 <= value <= 1 for value in metrics.values())
    assert metrics["accuracy"] > 0.68  # above the 63 % majority class


def test_mlflow_run_has_params_metrics_and_plots(default_run, sample_project):
    project, env = sample_project
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    experiment = mlflow.get_experiment_by_name("sentiment_mlops")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert len(parents) == 1
    run = parents[0]
    # One nested run per candidate model of the run's parameters.
    candidates = {key.split(".")[1] for key in run.data.params if key.startswith("candidates.")}
    nested = [
        other for other in runs if other.data.tags.get("mlflow.parentRunId") == run.info.run_id
    ]
    assert len(nested) == len(candidates) > 1
    assert run.data.params["source"] == "airline"
    assert (
        run.data.params["candidates.logistic_regression.estimator"]
        == "sklearn.linear_model.LogisticRegression"
    )
    assert run.data.params["imbalance.strategy"] == "class_weights"
    metrics = json.loads((project / "data" / "08_reporting" / "metrics.json").read_text())
    for key in METRIC_KEYS:
        assert run.data.metrics[f"test.{key}"] == pytest.approx(metrics[key])
    # The "uncertain" threshold, chosen on validation, and what it does on the test split.
    reports = project / "data" / "08_reporting"
    threshold = json.loads((reports / "uncertainty_threshold.json").read_text())
    on_test = json.loads((reports / "uncertainty_on_test.json").read_text())
    assert run.data.metrics["validation.uncertain_below_confidence"] == pytest.approx(
        threshold["uncertain_below_confidence"]
    )
    assert {"uncertain_share", "confident_accuracy"} <= set(on_test)
    for key, value in on_test.items():
        assert run.data.metrics[f"test.{key}"] == pytest.approx(value)
    client = mlflow.MlflowClient()
    plots = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {
        "plots/confusion_matrix.json",
        "plots/roc_curves.json",
        "plots/reliability_diagram.json",
        "plots/model_f1.json",
        "plots/fit_time_vs_score.json",
    }
    models = {
        artifact.path for artifact in client.list_artifacts(run.info.run_id, "model_artifacts")
    }
    assert "model_artifacts/sentiment_model.pkl" in models
    # The packaged model was registered by this run and, being the first, became champion.
    champion = client.get_model_version_by_alias("sentiment", "champion")
    assert champion.run_id == run.info.run_id


def test_promotion_decision_is_saved_through_the_catalog(default_run, sample_project):
    project, env = sample_project
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    decision = json.loads((project / "data" / "08_reporting" / "promotion.json").read_text())
    assert decision["model_name"] == "sentiment" and decision["version"] == "1"
    assert decision["promoted"] is True and decision["champion_version"] is None
    metrics = json.loads((project / "data" / "08_reporting" / "metrics.json").read_text())
    champion = mlflow.MlflowClient().get_model_version_by_alias("sentiment", "champion")
    assert float(champion.tags["test_macro_f1"]) == pytest.approx(metrics["macro_f1"])
    assert mlflow.get_run(champion.run_id).data.tags["promotion.promoted"] == "true"


@pytest.mark.parametrize(
    ("pipeline", "output"),
    [
        ("data_processing", "05_model_input/test_split.parquet"),
        ("feature_engineering", "04_feature/feature_pipeline.pkl"),
        ("training", "06_models/sentiment_model.pkl"),
        ("calibration", "06_models/calibrated_sentiment_model.pkl"),
        ("evaluation", "08_reporting/metrics.json"),
    ],
)
def test_each_pipeline_runs_alone(default_run, sample_project, pipeline, output):
    project, env = sample_project
    output_file = project / "data" / output
    before = output_file.stat().st_mtime_ns
    result = kedro(project, "run", "--pipelines", pipeline, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert output_file.stat().st_mtime_ns > before  # it ran, reading what earlier runs persisted


def test_unknown_source_is_a_clear_cli_error(sample_project):
    project, env = sample_project
    result = kedro(project, "run", "--params", "source=tweets", env=env)
    assert result.returncode != 0
    assert "Unknown source 'tweets'" in result.stdout + result.stderr
