"""Smoke test of the container image: built for real, run with a real model, answered over HTTP.

A private Docker daemon (tests/system/conftest.py) builds the stand-in base image
(deploy/docker/build_local_base.sh: Docker Hub is out of reach in CI) and the project's image,
then runs the image with a model from a small real training run mounted read-only, and compares
its answers with the packaged model's own predictions in this process. Everything it started
(containers, daemon) is stopped and its files removed at the end.

Needs root and the Debian packages docker.io and mmdebstrap (system-packages.txt; `make test`
installs them).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT, raw_source_files
from tests.support.docker import (
    BASE_IMAGE,
    CONTAINER_MODEL,
    LABEL,
    Docker,
    post,
    registered_model_dir,
    served_model,
)
from tests.support.servers import ServerError, wait_until

pytestmark = pytest.mark.system


TEXTS = [
    "@united thank you so much, the crew was wonderful and we landed early!",
    "@AmericanAir lost my bag again and nobody answers the phone. Worst airline ever.",
    "@SouthwestAir what time does the Denver flight board tomorrow?",
    "",  # an empty text is refused by the API: not part of the comparison below
]


@pytest.fixture(scope="module")
def model_dir(trained_model, tmp_path_factory) -> Path:
    """The registered model of the session's training run, as a directory the container reads."""
    return registered_model_dir(trained_model, tmp_path_factory.mktemp("served_model"))


@pytest.fixture(scope="module")
def served(docker: Docker, image: str, model_dir: Path) -> Iterator[tuple[str, str]]:
    """The API container, published on a free loopback port only; removed afterwards."""
    with served_model(docker, image, model_dir) as running:
        yield running


@pytest.fixture(scope="module")
def expected(model_dir: Path) -> pd.DataFrame:
    """The packaged model's own predictions, in this process."""
    texts = [text for text in TEXTS if text]
    return mlflow.pyfunc.load_model(str(model_dir)).predict(pd.DataFrame({"text": texts}))


def assert_same(answer: dict, row: pd.Series) -> None:
    assert answer["label"] == row["label"]
    assert answer["confidence"] == pytest.approx(row["confidence"], abs=1e-9)
    assert set(answer["scores"]) == {"negative", "neutral", "positive"}
    for name, score in answer["scores"].items():
        assert score == pytest.approx(row[name], abs=1e-9)


def test_predict_matches_the_model_in_process(served, expected):
    base, _ = served
    for index, text in enumerate(text for text in TEXTS if text):
        status, answer = post(f"{base}/predict", {"text": text})
        assert status == 200, answer
        assert_same(answer, expected.iloc[index])


def test_predict_batch_matches_the_model_in_process(served, expected):
    base, _ = served
    status, answer = post(f"{base}/predict/batch", {"texts": [t for t in TEXTS if t]})
    assert status == 200, answer
    assert len(answer["predictions"]) == len(expected)
    for prediction, (_, row) in zip(answer["predictions"], expected.iterrows(), strict=True):
        assert_same(prediction, row)


def test_bad_input_is_a_client_error_not_a_crash(served):
    base, _ = served
    status, answer = post(f"{base}/predict", {"text": TEXTS[-1]})
    assert status == 422, answer


def health_status(docker: Docker, name: str, wanted: str, timeout: float = 90) -> str:
    """The container's Docker health status once it is ``wanted`` (or the last one seen)."""
    status = ""

    def reached() -> bool:
        nonlocal status
        status = docker("inspect", "--format", "{{.State.Health.Status}}", name).strip()
        return status == wanted

    with contextlib.suppress(ServerError):
        wait_until(reached, what=f"{name} {wanted}", timeout=timeout, interval=1)
    return status


def test_healthy_means_ready_to_serve(served, docker, image, tmp_path):
    """The image's HEALTHCHECK (its own command, run every second here) reports a container
    that serves healthy, and one without a model not healthy."""
    base, name = served
    with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
        assert response.status == 200
    fast = ["--health-interval", "1s", "--health-start-period", "0s", "--health-retries", "2"]
    without_model = f"sentiment-smoke-{uuid.uuid4().hex[:8]}"
    docker(
        "run",
        "--detach",
        "--name",
        without_model,
        "--label",
        LABEL,
        *fast,
        "--env",
        "SENTIMENT_MODEL_URI=/models/not-there",
        image,
    )
    # The served container was started without the fast settings: restart one like it with them.
    healthy = f"sentiment-smoke-{uuid.uuid4().hex[:8]}"
    mounts = json.loads(docker("inspect", "--format", "{{json .HostConfig.Binds}}", name))
    docker(
        "run",
        "--detach",
        "--name",
        healthy,
        "--label",
        LABEL,
        *fast,
        "--volume",
        mounts[0],
        "--env",
        f"SENTIMENT_MODEL_URI={CONTAINER_MODEL}",
        image,
    )
    try:
        assert health_status(docker, healthy, "healthy") == "healthy"
        assert health_status(docker, without_model, "unhealthy") == "unhealthy"
        # Still running: it keeps retrying the load, and /ready says why it cannot serve.
        assert docker("inspect", "--format", "{{.State.Status}}", without_model).strip() == (
            "running"
        )
    finally:
        docker("rm", "--force", without_model, healthy, check=False)


def test_no_credential_file_reaches_the_build_context(docker, image, tmp_path):
    """The build context of a checkout holding the usual credential files (a filled-in copy of
    s3.env.example, conf/local credentials, a .env) contains none of them."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        PROJECT_ROOT,
        checkout,
        ignore=shutil.ignore_patterns(".venv", ".git", "data", "mlruns", "mlflow.db", "artifacts"),
    )
    secrets = [
        "conf/aws/s3.env",
        "conf/local/credentials.yml",
        "conf/base/credentials.yml",
        ".env",
        "deploy/aws/prod.env",
    ]
    for secret in secrets:
        (checkout / secret).parent.mkdir(parents=True, exist_ok=True)
        (checkout / secret).write_text("AWS_SECRET_ACCESS_KEY=not-a-real-secret\n")
    (checkout / "Dockerfile.context").write_text(f"FROM {BASE_IMAGE}\nCOPY . /context\n")
    tag = f"sentiment-context-{uuid.uuid4().hex[:8]}"
    docker("build", "--file", str(checkout / "Dockerfile.context"), "--tag", tag, str(checkout))
    try:
        listed = docker("run", "--rm", tag, "find", "/context", "-type", "f").split()
    finally:
        docker("rmi", "--force", tag, check=False)
    context = {path.removeprefix("/context/") for path in listed}
    assert "src/sentiment_mlops/__init__.py" in context  # the context is the checkout
    assert context.isdisjoint(secrets)


def test_server_process_is_not_root(served, docker):
    _, name = served
    # `docker top` lists the container's processes as the host sees them.
    processes = docker("top", name, "-eo", "pid,uid,args").splitlines()[1:]
    assert any("sentiment-mlops serve" in line for line in processes), processes
    assert {line.split()[1] for line in processes} == {"999"}
    assert docker("exec", name, "id", "-u").strip() == "999"


def test_published_port_is_bound_to_loopback_only(served, docker):
    _, name = served
    bindings = json.loads(docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", name))
    assert [binding["HostIp"] for binding in bindings["8000/tcp"]] == ["127.0.0.1"]


def test_same_image_runs_a_kedro_pipeline(docker, image, tmp_path):
    """`docker run IMAGE kedro run --pipelines data_processing`, data from the mounted mirror."""
    (raw_file,) = raw_source_files("airline")  # <mirror>/twitter_airline_sentiment/Tweets.csv
    data_root = raw_file.parents[1].resolve()
    output = tmp_path / "model_input"
    output.mkdir()
    output.chmod(0o777)  # written by the container's UID 999
    docker(
        "run",
        "--rm",
        "--label",
        LABEL,
        "--volume",
        f"{data_root}:/mirror:ro",
        "--volume",
        f"{output}:/home/kedro_docker/data/05_model_input",
        "--env",
        "SENTIMENT_DATA_MIRROR=/mirror",
        image,
        "kedro",
        "run",
        "--pipelines",
        "data_processing",
        timeout=300,
    )
    splits = {path.name for path in output.iterdir()}
    assert {"train_split.parquet", "validation_split.parquet", "test_split.parquet"} <= splits
    test_split = pd.read_parquet(output / "test_split.parquet")
    assert {"text", "clean_text", "label", "source"} <= set(test_split.columns)
    assert len(test_split) > 2000  # 20 % of the 14,210 deduplicated airline tweets


def test_dockerignore_keeps_data_state_and_secrets_out(docker, image, tmp_path):
    """Build a context laid out like a used checkout with the project's .dockerignore."""
    context = tmp_path / "context"
    kept = [
        "conf/base/catalog.yml",
        "conf/local/.gitkeep",
        "src/sentiment_mlops/__init__.py",
        "requirements.lock",
    ]
    dropped = [
        "data/01_raw/Tweets.csv",
        "data/06_models/sentiment_model.pkl",
        "mlflow.db",
        "mlruns/0/meta.yaml",
        ".venv/bin/python",
        ".git/HEAD",
        "conf/local/credentials.yml",
        "conf/base/credentials.yml",
        "conf/local/catalog.yml",
    ]
    for relative in kept + dropped:
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text("x")
    shutil.copy(PROJECT_ROOT / ".dockerignore", context / ".dockerignore")
    dockerfile = tmp_path / "Dockerfile.context"
    dockerfile.write_text(f"FROM {image}\nCOPY . /tmp/context\n")
    tag = "sentiment-mlops:context-check"
    docker("build", "--file", str(dockerfile), "--tag", tag, str(context))
    listing = docker("run", "--rm", "--label", LABEL, tag, "find", "/tmp/context")
    docker("rmi", tag)
    files = {line.removeprefix("/tmp/context/") for line in listing.split()}
    assert set(kept) <= files
    assert not set(dropped) & files
