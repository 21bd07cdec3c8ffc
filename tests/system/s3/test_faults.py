"""Faults on the S3 side stop ``kedro run --env aws`` quickly, clearly, and harmlessly.

Each case runs against the bucket that ``aws_project`` filled with two complete runs, and
checks that the run exits non-zero within a bound, that its message names the dataset, the
URL and the cause, and that nothing already in the bucket changed (no half-written model or
metrics, no new version).
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.support.projects import VENV_BIN, kedro
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy
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


def test_batch_scoring_cut_off_mid_run_leaves_the_previous_predictions(
    aws_project: AwsProject, s3_server: S3Server, airline_raw, tmp_path
) -> None:
    """The endpoint goes away while `kedro run --pipelines inference` scores its chunks: the
    run fails, naming the dataset, and the bucket holds the previous predictions, whole, and
    no partial file."""
    instances = tmp_path / "instances.csv"
    airline_raw[["text"]].head(3000).to_csv(instances, index=False)  # 300 chunks of 10
    predictions = f"{aws_project.root}/07_model_output/batch_predictions.csv"
    params = (
        f"source={SOURCE},instances_path={instances},predictions_path=s3://{predictions},"
        "instances_chunksize=10"
    )
    arguments = ["run", "--env", "aws", "--pipelines", "inference", "--params", params]
    first = kedro(aws_project.path, *arguments, env=aws_project.env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    before = object_etags(s3_server, aws_project.root)
    assert predictions in before

    upstream = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    with TcpProxy(upstream) as proxy:
        env = {
            **aws_project.env,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
            "PYTHONUNBUFFERED": "1",
        }
        started = time.monotonic()
        run = subprocess.Popen(
            [VENV_BIN / "kedro", *arguments],
            cwd=aws_project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        for line in run.stdout:  # the model is loaded; chunks are being scored
            lines.append(line)
            if re.search(r"Scored chunk \d+ ", line):
                proxy.cut()
                break
        rest, _ = run.communicate(timeout=BOUND_S)
    elapsed = time.monotonic() - started
    output = " ".join(("".join(lines) + rest).split())
    assert run.returncode != 0, output[-3000:]
    assert elapsed < BOUND_S
    assert "Scored chunk 300 " in output  # every chunk was scored, then writing failed
    assert "Failed while saving data to dataset" in output and "batch_predictions.csv" in output
    assert object_etags(s3_server, aws_project.root) == before
