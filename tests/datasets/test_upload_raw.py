"""``sentiment-mlops upload-raw``: a source's verified raw files to the aws environment's bucket.

Runs the real command in a fresh process against moto's S3 server on 127.0.0.1, with the uci
source (three small files) found in ``$SENTIMENT_DATA_MIRROR``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import s3fs

from tests.conftest import raw_source_files
from tests.support.projects import run_command

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UCI_FILES = [
    "uci_sentiment_labelled_sentences/amazon_cells_labelled.txt",
    "uci_sentiment_labelled_sentences/imdb_labelled.txt",
    "uci_sentiment_labelled_sentences/yelp_labelled.txt",
]


def reported(output: str) -> list[str]:
    """The command's own lines (Kedro's log lines go to stdout too)."""
    return [
        line for line in output.splitlines() if line.startswith(("uploaded: ", "already there: "))
    ]


def command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_command([sys.executable, "-m", "sentiment_mlops", *args], PROJECT_ROOT, env, 120)


@pytest.fixture
def environment(moto_endpoint: str) -> dict[str, str]:
    """A bucket on the S3 server, and a process environment with no AWS settings but its URL."""
    s3fs.S3FileSystem(
        key="test", secret="test", client_kwargs={"endpoint_url": moto_endpoint}
    ).makedirs("raw-upload", exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {
        **env,
        "SENTIMENT_S3_BUCKET": "raw-upload",
        "SENTIMENT_S3_PREFIX": "project",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        # No credentials anywhere else either: no files, no instance metadata service.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def test_uploads_each_file_once(environment, moto_endpoint):
    keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    first = command("upload-raw", "--source", "uci", "--env", "aws", **environment, **keys)
    assert first.returncode == 0, first.stderr[-2000:]
    root = "s3://raw-upload/project/01_raw"
    assert reported(first.stdout) == [f"uploaded: {root}/{path}" for path in UCI_FILES]
    bucket = s3fs.S3FileSystem(
        key="test", secret="test", client_kwargs={"endpoint_url": moto_endpoint}
    )
    local = {
        path: raw.read_bytes() for path, raw in zip(UCI_FILES, raw_source_files("uci"), strict=True)
    }
    assert {path: bucket.cat(f"{root}/{path}") for path in UCI_FILES} == local
    again = command("upload-raw", "--source", "uci", "--env", "aws", **environment, **keys)
    assert reported(again.stdout) == [f"already there: {root}/{path}" for path in UCI_FILES]


def test_unknown_source_is_a_clear_usage_error(environment):
    result = command("upload-raw", "--source", "tweets", **environment)
    assert result.returncode == 2
    assert (
        "Error: Unknown source 'tweets'. Choose one of ['airline', 'amazon_alexa'" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_missing_credentials_are_a_clear_usage_error(environment):
    result = command("upload-raw", "--source", "uci", **environment)
    assert result.returncode == 2
    assert "Error: Unable to locate credentials. Check the credentials" in result.stderr
    assert "conf/aws/s3.env.example" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_bucket_setting_is_named(environment):
    environment.pop("SENTIMENT_S3_BUCKET")
    result = command("upload-raw", "--source", "uci", **environment)
    assert result.returncode == 2
    assert "SENTIMENT_S3_BUCKET" in result.stderr and "Traceback" not in result.stderr


def test_arguments_without_a_command_still_go_to_run(environment):
    result = command("--pipelines", "data_processing", "--help", **environment)
    assert result.returncode == 0
    assert "Run the pipeline." in result.stdout
    listing = command("--help", **environment)
    assert "upload-raw" in listing.stdout and "run" in listing.stdout
