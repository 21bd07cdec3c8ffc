"""DVC on a copy of the project: raw data round-trips through an S3 remote (Ceph RGW), and
``dvc repro`` runs the Kedro stages that changed, nothing on a clean tree.

Uses the committed .dvc/config, dvc.yaml and data/01_raw/**/*.dvc; the remote's endpoint and
keys are set per machine with ``dvc remote modify --local``, as the README says.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.projects import run_command
from tests.system.s3.conftest import S3Server, copy_project, mirror_dir

pytestmark = pytest.mark.system


RAW = "data/01_raw/twitter_airline_sentiment/Tweets.csv"
STAGES = {"data_processing", "feature_engineering", "training", "calibration", "evaluation"}


def dvc(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = run_command([Path(sys.executable).parent / "dvc", *args], project, env)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([a-z_]+)'", output))


def git_commit(project: Path, message: str) -> None:
    for command in (["add", "-A"], ["commit", "-qm", message]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *command],
            cwd=project,
            check=True,
            capture_output=True,
        )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvc_project(s3_server: S3Server, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A git clone-like copy with the remote pointed at a fresh bucket on the S3 server."""
    project = copy_project(tmp_path_factory.mktemp("dvc-project"))
    env = s3_server.env(
        DVC_NO_ANALYTICS="1",
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}",
        # dvc.yaml runs `kedro`: the one of this virtual environment
        PATH=f"{Path(sys.executable).parent}:{s3_server.env()['PATH']}",
    )
    # The stages run on the small uci source (its real files, placed as `dvc pull` would)
    # so that the Kedro stages fit the CI budget; airline is the same commands, slower.
    for path in (mirror_dir() / "uci_sentiment_labelled_sentences").iterdir():
        target = project / "data/01_raw/uci_sentiment_labelled_sentences" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    globals_yml = project / "conf/base/globals.yml"
    globals_yml.write_text(
        globals_yml.read_text().replace("default_source: airline", "default_source: uci")
    )
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    git_commit(project, "clone")
    bucket = s3_server.new_bucket("dvc")  # DVC does not create buckets
    remote = ["remote", "modify", "--local", "storage"]
    dvc(project, *remote, "url", f"s3://{bucket}/dvc", env=env)
    dvc(project, *remote, "endpointurl", s3_server.endpoint_url, env=env)
    dvc(project, *remote, "access_key_id", s3_server.access_key, env=env)
    dvc(project, *remote, "secret_access_key", s3_server.secret_key, env=env)
    return project, env


def test_push_wipe_pull_keeps_every_byte(dvc_project, s3_server: S3Server) -> None:
    project, env = dvc_project
    # What `dvc add` did for the committed .dvc file: the raw file placed from the mirror.
    raw = project / RAW
    shutil.copyfile(mirror_dir() / "twitter_airline_sentiment/Tweets.csv", raw)
    pointer = (project / f"{RAW}.dvc").read_text()
    dvc(project, "add", RAW, env=env)
    assert (project / f"{RAW}.dvc").read_text() == pointer, "the committed .dvc file is stale"
    expected = sha256(raw)
    dvc(project, "push", env=env)
    remote_url = dvc(project, "remote", "list", "--local", env=env).stdout.split()[-1]
    assert s3_server.filesystem().find(remote_url), "nothing was pushed to the bucket"

    shutil.rmtree(project / ".dvc" / "cache")
    raw.unlink()
    # The raw data only: the stages' outputs have not been produced (nor pushed) yet.
    dvc(project, "pull", f"{RAW}.dvc", env=env)
    assert sha256(raw) == expected


def test_repro_runs_what_changed_and_nothing_else(dvc_project) -> None:
    project, env = dvc_project
    first = dvc(project, "repro", env=env).stdout
    assert stages_run(first) == STAGES

    again = dvc(project, "repro", env=env).stdout
    assert stages_run(again) == set()
    assert "Data and pipelines are up to date" in again

    shown = json.loads(dvc(project, "metrics", "show", "--json", env=env).stdout)
    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    (workspace,) = shown.values()
    assert workspace["data"]["data/08_reporting/metrics.json"]["data"] == metrics

    git_commit(project, "dvc.lock of the first repro")
    parameters = project / "conf/base/parameters_calibration.yml"
    calibration = yaml.safe_load(parameters.read_text())
    calibration["calibration"]["method"] = "sigmoid"
    parameters.write_text(yaml.safe_dump(calibration))
    changed = dvc(project, "repro", env=env).stdout
    assert stages_run(changed) == {"calibration", "evaluation"}

    diff = json.loads(dvc(project, "metrics", "diff", "--json", env=env).stdout)
    assert "expected_calibration_error" in diff["data/08_reporting/calibration_metrics.json"]
