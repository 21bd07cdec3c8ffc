"""Faults on the S3 side stop ``kedro run --env aws`` quickly, clearly, and harmlessly.

Each case runs against the bucket that ``aws_project`` filled with two complete runs, and
checks that the run exits non-zero within a bound, that its message names the dataset, the
URL and the cause, and that nothing already in the bucket changed (no half-written model or
metrics, no new version).
"""

from __future__ import annotations

import time

import pytest

from tests.support.projects import kedro
from tests.support.servers import free_port
from tests.system.s3.conftest import SOURCE, AwsProject, S3Server, object_etags

pytestmark = pytest.mark.system


# Kedro, MLflow and the project take ~10-20 s to start on a busy 2-core machine; a fault
# must not add minutes of retries on top (AWS_MAX_ATTEMPTS=2 in the test environment).
BOUND_S = 60


def failed_run(project: AwsProject, *args: str, **env: str) -> tuple[str, float]:
    """Run ``kedro run --env aws`` expecting a failure; returns its output and duration."""
    started = time.monotonic()
    run = kedro(
        project.path,
        "run",
        "--env",
        "aws",
        "--params",
        f"source={SOURCE}",
        *args,
        env={**project.env, **env},
    )
    elapsed = time.monotonic() - started
    output = " ".join((run.stdout + run.stderr).split())  # undo the console's line wrapping
    assert run.returncode != 0, f"the run should have failed:\n{output[-3000:]}"
    return output, elapsed


def test_endpoint_down(aws_project: AwsProject, s3_server: S3Server) -> None:
    before = object_etags(s3_server, aws_project.root)
    nobody = f"http://127.0.0.1:{free_port()}"
    # data_processing: its first S3 access is the raw data (other pipelines have nodes
    # without inputs that may touch S3 first, which would make the failing dataset vary).
    output, elapsed = failed_run(
        aws_project, "--pipelines", "data_processing", AWS_ENDPOINT_URL=nobody
    )
    assert elapsed < BOUND_S
    assert "DatasetError: raw_texts:" in output
    assert f"s3://{aws_project.root}/01_raw/uci_sentiment_labelled_sentences/" in output
    assert "EndpointConnectionError: Could not connect to the endpoint URL" in output
    assert object_etags(s3_server, aws_project.root) == before


def test_wrong_credentials(aws_project: AwsProject, s3_server: S3Server) -> None:
    before = object_etags(s3_server, aws_project.root)
    output, elapsed = failed_run(
        aws_project, "--pipelines", "data_processing", AWS_SECRET_ACCESS_KEY="not-the-secret"
    )
    assert elapsed < BOUND_S
    assert "DatasetError: raw_texts:" in output
    assert f"s3://{aws_project.root}/01_raw/uci_sentiment_labelled_sentences/" in output
    # Ceph checks the request signature, as AWS does.
    assert "SignatureDoesNotMatch" in output or "Forbidden" in output
    assert object_etags(s3_server, aws_project.root) == before


def test_missing_object_mid_run(aws_project: AwsProject, s3_server: S3Server) -> None:
    """The test split disappears after training: evaluation stops, earlier outputs stay."""
    filesystem = s3_server.filesystem()
    test_split = f"{aws_project.root}/05_model_input/test_split.parquet"
    kept = filesystem.cat(test_split)
    filesystem.rm(test_split)
    before = object_etags(s3_server, aws_project.root)
    try:
        output, elapsed = failed_run(aws_project, "--pipelines", "evaluation")
        after = object_etags(s3_server, aws_project.root)
    finally:
        filesystem.pipe(test_split, kept)
    assert elapsed < BOUND_S
    assert "DatasetError: test_split:" in output
    assert test_split in output and "protocol='s3'" in output
    assert "FileNotFoundError" in output or "NoSuchKey" in output
    # Everything earlier runs wrote is intact ...
    assert {key: after.get(key) for key in before} == before
    # ... and no model, metrics or promotion was half-written. (Evaluation's comparison
    # charts need only the comparison table, so they may be saved before the failure, as
    # new versions beside the earlier ones.)
    written = set(after) - set(before)
    assert not [
        key for key in written if "/06_models/" in key or "metrics" in key or "promotion" in key
    ]
