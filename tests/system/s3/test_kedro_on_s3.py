"""``kedro run --env aws`` against a real S3 server (Ceph RGW) and an MLflow server on it.

The ``aws_project`` fixture (conftest.py) uploads the raw files with the documented command
and runs every pipeline twice with ``--env aws``; here a local run of the same source is the
reference it must match.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.pipeline_registry import REGISTERED_MODEL_NAME
from sentiment_mlops.prediction import predict_frame
from tests.system.s3.conftest import (
    SOURCE,
    AwsProject,
    MlflowServer,
    S3Server,
    copy_project,
    kedro,
    local_files,
    mirror_dir,
    object_etags,
    tracked_runs,
)

pytestmark = pytest.mark.system


UNVERSIONED = [
    "02_intermediate/canonical_texts.parquet",
    "03_primary/deduplicated_texts.parquet",
    "04_feature/feature_pipeline.pkl",
    "05_model_input/test_split.parquet",
    "07_model_output/test_predictions.parquet",
]
VERSIONED = [
    "06_models/sentiment_model.pkl",
    "06_models/calibrated_sentiment_model.pkl",
    "08_reporting/model_comparison.csv",
    "08_reporting/metrics.json",
    "08_reporting/confusion_matrix.json",
    "08_reporting/promotion.json",
]


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def versions(server: S3Server, root: str, relative: str) -> list[str]:
    """The version folders of a versioned dataset, oldest first (they are timestamps)."""
    return sorted(p.rsplit("/", 1)[-1] for p in server.filesystem().ls(f"{root}/{relative}"))


@dataclass
class LocalRun:
    path: Path
    run_id: str
    raw_before: dict[str, str]
    raw_after: dict[str, str]


@pytest.fixture(scope="module")
def local_run(mlflow_server: MlflowServer, s3_server: S3Server, tmp_path_factory) -> LocalRun:
    """The same source with the default (local) environment, tracked on the MLflow server."""
    project = copy_project(tmp_path_factory.mktemp("local-project"))
    raw_source = mirror_dir() / "uci_sentiment_labelled_sentences"
    raw_before = sha256_tree(raw_source)
    env = s3_server.env(
        SENTIMENT_DATA_MIRROR=str(mirror_dir()),
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
    )
    runs_before = tracked_runs(mlflow_server.uri)
    run = kedro(project, "run", "--params", f"source={SOURCE}", env=env)
    assert run.returncode == 0, f"local kedro run failed:\n{run.stdout[-4000:]}{run.stderr[-4000:]}"
    (run_id,) = tracked_runs(mlflow_server.uri) - runs_before
    return LocalRun(project, run_id, raw_before, sha256_tree(raw_source))


def log_text(output: str) -> str:
    """Console log as plain text: rich wraps messages into a narrow column next to the
    ``file.py:line`` of each record; drop those and join the words again."""
    return " ".join(re.sub(r"\S+\.py:\d+", " ", output).split())


def test_aws_run_writes_every_output_to_the_bucket(aws_project: AwsProject, s3_server) -> None:
    stored = set(object_etags(s3_server, aws_project.root))
    missing = [f for f in UNVERSIONED if f"{aws_project.root}/{f}" not in stored]
    missing += [f for f in VERSIONED if not versions(s3_server, aws_project.root, f)]
    assert not missing, f"not in s3://{aws_project.root}: {missing}"


def test_aws_run_leaves_nothing_on_local_disk(aws_project: AwsProject) -> None:
    assert local_files(aws_project.path) - aws_project.files_before == set()


def test_aws_metrics_match_a_local_run(aws_project: AwsProject, local_run: LocalRun, s3_server):
    latest = versions(s3_server, aws_project.root, "08_reporting/metrics.json")[-1]
    remote = json.loads(
        s3_server.filesystem().cat(
            f"{aws_project.root}/08_reporting/metrics.json/{latest}/metrics.json"
        )
    )
    local = json.loads((local_run.path / "data/08_reporting/metrics.json").read_text())
    assert remote.keys() == local.keys() and "macro_f1" in remote
    assert remote == pytest.approx(local, rel=1e-9)


def test_versioned_datasets_keep_earlier_versions(aws_project: AwsProject, s3_server) -> None:
    now = object_etags(s3_server, aws_project.root)
    for relative in VERSIONED:
        kept = versions(s3_server, aws_project.root, relative)
        assert len(kept) == 2, f"{relative}: expected one version per run, got {kept}"
        first = f"{aws_project.root}/{relative}/{kept[0]}/{Path(relative).name}"
        assert now[first] == aws_project.etags_after_first_run[first], f"{first} was rewritten"


def test_raw_data_is_never_modified(aws_project: AwsProject, local_run: LocalRun, s3_server):
    assert local_run.raw_after == local_run.raw_before
    raw = f"{aws_project.root}/01_raw"
    before = {k: v for k, v in aws_project.etags_after_first_run.items() if k.startswith(raw)}
    after = {k: v for k, v in object_etags(s3_server, raw).items()}
    assert len(before) == 3 and after == before


def test_mlflow_server_tracks_metrics_and_stores_artifacts_in_s3(
    local_run: LocalRun, mlflow_server: MlflowServer, s3_server: S3Server, tmp_path: Path
) -> None:
    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(local_run.run_id)
    logged = run.data.metrics
    expected = json.loads((local_run.path / "data/08_reporting/metrics.json").read_text())
    # kedro-mlflow prefixes each metric with the dataset's `prefix` (default: its name)
    catalog = yaml.safe_load((local_run.path / "conf/base/catalog.yml").read_text())
    key = f"{catalog['mlflow_metrics'].get('prefix', 'mlflow_metrics')}.macro_f1"
    assert key in logged, (
        f"run {run.info.run_id} ({run.info.run_name}, {run.info.status}) logged {sorted(logged)}"
    )
    assert logged[key] == pytest.approx(expected["macro_f1"])
    in_bucket = s3_server.filesystem().find(f"{mlflow_server.artifacts_bucket}/artifacts")
    assert any(path.endswith("model_artifacts/sentiment_model.pkl") for path in in_bucket)
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=local_run.run_id,
        artifact_path="model_artifacts/sentiment_model.pkl",
        dst_path=str(tmp_path),
        tracking_uri=mlflow_server.uri,
    )
    served = pickle.loads(Path(downloaded).read_bytes())
    trained = pickle.loads((local_run.path / "data/06_models/sentiment_model.pkl").read_bytes())
    texts = pd.Series(["the flight was great", "worst service ever", "it is a phone"])
    pd.testing.assert_frame_equal(predict_frame(served, texts), predict_frame(trained, texts))


def test_aws_run_registers_a_servable_model_with_artifacts_in_s3(
    aws_project: AwsProject, mlflow_server: MlflowServer, s3_server: S3Server, monkeypatch
) -> None:
    """Each aws run logs and registers the packaged inference pipeline; its fitted artifact is
    stored in the MLflow server's bucket and the API loads it as ``models:/sentiment@champion``."""
    client = MlflowClient(mlflow_server.uri)
    by_run = {
        version.run_id: version
        for version in client.search_model_versions(f"name='{REGISTERED_MODEL_NAME}'")
    }
    for run in aws_project.runs:  # the run log says how the S3 artifact reached MLflow
        assert "copied to a temporary local file" in log_text(run.stdout + run.stderr)
    unregistered = [run_id for run_id in aws_project.run_ids if run_id not in by_run]
    assert not unregistered, f"aws runs without a `{REGISTERED_MODEL_NAME}` version: {unregistered}"
    latest = by_run[aws_project.run_ids[-1]]
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, "champion", latest.version)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    mlflow.set_tracking_uri(mlflow_server.uri)
    try:
        model_id = mlflow.models.get_model_info(
            f"models:/{REGISTERED_MODEL_NAME}/{latest.version}"
        ).model_id
        served = ServedModel.load(f"models:/{REGISTERED_MODEL_NAME}@champion")
    finally:
        mlflow.set_tracking_uri(None)
    assert model_id is not None, f"version {latest.version} has no logged model"
    in_bucket = s3_server.filesystem().find(f"{mlflow_server.artifacts_bucket}/artifacts")
    packaged = [
        path
        for path in in_bucket
        if model_id in path and path.endswith("/calibrated_sentiment_model.pkl")
    ]
    assert packaged, f"model {model_id} has no calibrated_sentiment_model.pkl in the bucket"
    assert served.card.run_id == aws_project.run_ids[-1]
    relative = "06_models/calibrated_sentiment_model.pkl"
    saved = versions(s3_server, aws_project.root, relative)[-1]
    trained = pickle.loads(
        s3_server.filesystem().cat(f"{aws_project.root}/{relative}/{saved}/{Path(relative).name}")
    )
    texts = pd.Series(["the flight was great", "worst service ever", "it is a phone"])
    pd.testing.assert_frame_equal(
        predict_frame(served.estimator, texts), predict_frame(trained, texts)
    )
