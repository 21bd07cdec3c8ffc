"""Two `kedro run`s finishing together: the better model ends as champion, and each run's
decision is about its own model (real runs, one shared MLflow store)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sentiment_mlops.mlflow_registry import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    SCORE_TAG,
    promotion_lock,
)
from tests.support.projects import session_command, tool_env, use_test_candidates

pytestmark = pytest.mark.system

RUNS_TIMEOUT_S = 900
# A model search that can only do worse than conf/test's: one Naive Bayes smoothed to the prior.
WEAK_CANDIDATES = {
    "candidates": {
        "complement_nb": {
            "estimator": "sklearn.naive_bayes.ComplementNB",
            "grid": {"classifier__alpha": [1000.0]},
        }
    }
}


def _start(workdir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as output:  # a file, not a pipe: a full pipe would stall the run
        return subprocess.Popen(
            session_command(workdir, "__default__", {}),
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait_for_scored_versions(
    client: MlflowClient, count: int, runs: dict[str, subprocess.Popen], logs: dict[str, Path]
) -> list:
    """Until ``count`` versions carry their test score (set just before the alias decision)."""
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    while time.monotonic() < deadline:
        versions = client.search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
        scored = [version for version in versions if SCORE_TAG in (version.tags or {})]
        if len(scored) >= count:
            return scored
        for name, run in runs.items():
            if run.poll() is not None:
                pytest.fail(f"the {name} run ended early:\n{logs[name].read_text()[-5000:]}")
        time.sleep(1)
    pytest.fail(f"{count} scored versions did not appear in {RUNS_TIMEOUT_S} s")


def test_two_runs_finishing_together_leave_the_better_as_champion(trained_model, tmp_path):
    better = trained_model.copy(tmp_path / "better")
    worse_dir = tmp_path / "worse"
    shutil.copytree(
        better.workdir,
        worse_dir,
        symlinks=True,
        ignore=shutil.ignore_patterns("mlruns", "mlflow.db"),
    )
    use_test_candidates(worse_dir, WEAK_CANDIDATES)
    # Both runs write their promotion request to the same file, as two runs of one project
    # (or of the aws environment, on one bucket) do: each must decide on its own request.
    shutil.rmtree(worse_dir / "data/08_reporting")
    (worse_dir / "data/08_reporting").symlink_to(better.workdir / "data/08_reporting")
    client = MlflowClient(better.tracking_uri, better.tracking_uri)
    # A new project's first two runs: no champion yet, so each run beats "no champion".
    client.delete_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
    envs = {"better": better.env(), "worse": tool_env(worse_dir, better.tracking_uri)}
    workdirs = {"better": better.workdir, "worse": worse_dir}
    logs = {name: tmp_path / f"{name}.log" for name in workdirs}

    # Holding the lock keeps both runs at their decision: they then race for it.
    with promotion_lock(client, REGISTERED_MODEL_NAME):
        runs = {name: _start(workdirs[name], envs[name], logs[name]) for name in workdirs}
        try:
            _wait_for_scored_versions(client, 3, runs, logs)
            time.sleep(2)  # time to move the alias, for a run that would not wait
            assert client.get_registered_model(REGISTERED_MODEL_NAME).aliases == {}
            assert all(run.poll() is None for run in runs.values())  # both waiting
        except BaseException:
            for run in runs.values():
                run.kill()
            raise
    for name, run in runs.items():
        assert run.wait(timeout=300) == 0, logs[name].read_text()[-5000:]

    new_versions = [
        version
        for version in client.search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
        if str(version.version) != trained_model.version
    ]
    scores = {str(version.version): float(version.tags[SCORE_TAG]) for version in new_versions}
    best = max(scores, key=scores.get)
    assert min(scores.values()) < scores[best]  # the weak search did do worse
    champion = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
    assert str(champion.version) == best
    for version in new_versions:
        run = client.get_run(version.run_id).data
        # Its own model's score, not the one the other run left in the shared request file.
        assert run.metrics["promotion.candidate_macro_f1"] == pytest.approx(
            run.metrics["test.macro_f1"]
        )
        assert float(version.tags[SCORE_TAG]) == pytest.approx(run.metrics["test.macro_f1"])


def test_a_run_decides_on_its_own_request_when_a_later_one_is_stored(trained_model, tmp_path):
    """With versioned reports (the aws environment's, where every run of a project writes to
    one bucket) the newest ``promotion_request`` may be another run's: a run that loaded it
    would be promoted, or not, on that run's score."""
    project = trained_model.copy(tmp_path / "project")
    (project.workdir / "conf/local/globals.yml").write_text("versioned_reports: true\n")
    reports = project.workdir / "data/08_reporting"
    for report in (
        "metrics",
        "promotion_request",
        "promotion",
        "calibration_metrics",
        "uncertainty_threshold",
        "uncertainty_on_test",
    ):
        (reports / f"{report}.json").unlink(missing_ok=True)  # unversioned copies: files
    other_run = reports / "promotion_request.json/2999-01-01T00.00.00.000Z/promotion_request.json"
    other_run.parent.mkdir(parents=True)
    client = MlflowClient(project.tracking_uri, project.tracking_uri)
    champion = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
    other_run.write_text(
        json.dumps(
            {
                "test_macro_f1": 0.0,  # would lose to any champion
                "data_source": champion.tags["data_source"],
                "test_split_sha256": champion.tags["test_split_sha256"],
            }
        )
    )
    log = tmp_path / "run.log"
    run = _start(project.workdir, project.env(), log)
    assert run.wait(timeout=RUNS_TIMEOUT_S) == 0, log.read_text()[-5000:]

    (version,) = [
        version
        for version in client.search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
        if str(version.version) != trained_model.version
    ]
    metrics = client.get_run(version.run_id).data.metrics
    assert metrics["promotion.candidate_macro_f1"] == pytest.approx(metrics["test.macro_f1"])
    # The same data and model as the champion's run: at least as good, so it takes the alias.
    assert client.get_model_version(REGISTERED_MODEL_NAME, version.version).aliases == [
        CHAMPION_ALIAS
    ]
