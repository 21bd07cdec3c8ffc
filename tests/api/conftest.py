"""Fixtures of the API tests: a real training run, and a real uvicorn serving its model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.trained_model import TrainedModel, shared_trained_model

STARTUP_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> TrainedModel:
    return shared_trained_model(tmp_path_factory)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Service:
    url: str
    process: subprocess.Popen
    log: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def start_service(workdir: Path, env: dict[str, str]) -> Service:
    """``uvicorn sentiment_mlops.api.app:app`` in a fresh process, outside the project
    directory; returns once /ready says the model is loaded."""
    port = free_port()
    log = workdir / f"uvicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "sentiment_mlops.api.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    service = Service(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{service.url}/ready", timeout=2).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise AssertionError(f"the model was not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def service(trained_model: TrainedModel, tmp_path_factory) -> Iterator[Service]:
    """The service on a free loopback port, serving models:/sentiment@champion."""
    outside = tmp_path_factory.mktemp("service_cwd")  # not the project directory
    running = start_service(outside, trained_model.env())
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)
