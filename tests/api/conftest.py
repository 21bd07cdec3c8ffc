"""Fixtures of the API tests: a real uvicorn serving the session's trained model."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest
from fastapi.testclient import TestClient

from tests.support.projects import TrainedProject
from tests.support.servers import ServerProcess, free_port, start_server

STARTUP_TIMEOUT_S = 120
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "sentiment_mlops.api.protocol:BoundedHttpToolsProtocol"


@dataclass
class Service:
    url: str
    server: ServerProcess

    @property
    def log(self) -> Path:
        """uvicorn's stdout and stderr."""
        return self.server.log

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.stop()


def start_service(
    workdir: Path,
    env: dict[str, str],
    app: str | None = None,
    ready: str = "/ready",
    workers: int = 1,
) -> Service:
    """``sentiment-mlops serve`` in a fresh process, outside the project directory; returns
    once ``ready`` answers 200 (by default: the model is loaded).

    With ``app`` (an import string such as ``tests.support.faulty_service:app``), uvicorn
    serves that app instead, with the same bounded protocol.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if app is None:
        command = [sys.executable, "-m", "sentiment_mlops", "serve", "--port", str(port)]
        command += ["--workers", str(workers)]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
        command += ["--port", str(port), "--http", PROTOCOL]
        env = {**env, "PYTHONPATH": str(PROJECT_ROOT)}  # the app lives in tests/support
    server = start_server(
        command,
        f"{url}{ready}",
        timeout=STARTUP_TIMEOUT_S,
        interval=0.2,
        cwd=workdir,
        env=env,
        log=workdir / f"service-{port}.log",
        stop_timeout=30,
    )
    return Service(url, server)


@pytest.fixture
def anyio_backend() -> str:
    """The service runs on asyncio (uvloop): async tests run there too."""
    return "asyncio"


@pytest.fixture(scope="session")
def service(trained_model: TrainedProject, tmp_path_factory) -> Iterator[Service]:
    """The service on a free loopback port, serving models:/sentiment@champion."""
    outside = tmp_path_factory.mktemp("service_cwd")  # not the project directory
    running = start_service(outside, trained_model.env())
    yield running
    running.stop()


@pytest.fixture(scope="session")
def model_dir(trained_model, tmp_path_factory) -> str:
    """The champion's MLflow model directory, as `SENTIMENT_MODEL_URI` may name one (for the
    in-process app)."""
    with pytest.MonkeyPatch.context() as patch:  # models:/ resolves through the environment
        patch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
        return mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/sentiment/{trained_model.version}",
            dst_path=str(tmp_path_factory.mktemp("model_dir")),
        )


def wait_ready(client: TestClient, timeout: float = 60) -> None:
    """Until the in-process app's /ready says the model is loaded."""
    deadline = time.monotonic() + timeout
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/ready").json()
        time.sleep(0.1)
