"""A private Docker daemon, the project's image built on it, and a model served in a container.

Shared by the system tests that build and run the image (tests/system/conftest.py holds the
session's daemon and image). The daemon's socket, data and state live in a temporary directory
(in memory where allowed); everything started is stopped and removed at the end. Needs root and
the Debian packages docker.io and mmdebstrap (system-packages.txt; `make test` installs them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.support.projects import PROJECT_ROOT, TrainedProject
from tests.support.servers import answers, free_port, start_server, wait_until

BASE_IMAGE = "local/python:3.11-slim"
CONTAINER_MODEL = "/models/sentiment"
# Containers the tests start carry it, so that whatever a failed test leaves is removed.
LABEL = "sentiment-smoke-test"


@dataclass
class Docker:
    """The docker CLI bound to the private daemon."""

    cli: str
    env: dict[str, str]

    def __call__(self, *args: str, timeout: int = 600, check: bool = True) -> str:
        result = subprocess.run(
            [self.cli, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def answers(self) -> bool:
        """Whether the daemon is up."""
        command = [self.cli, "info", "--format", "{{.ServerVersion}}"]
        result = subprocess.run(command, env=self.env, capture_output=True, timeout=10, check=False)
        return result.returncode == 0


def mount_tmpfs(path: Path) -> bool:
    """Put ``path`` in memory when allowed: image layers are ~100k small files, and writing
    and deleting them on a busy disk took minutes. Falls back to the disk quietly."""
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8g,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def unmount_everything_under(root: Path) -> None:
    """Unmount ``root`` and every mount below it, deepest first."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    inside = [p for p in points if p == str(root) or p.startswith(f"{root}/")]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


@contextlib.contextmanager
def private_docker() -> Iterator[Docker]:
    """dockerd on a socket in a fresh temporary directory; stopped and removed afterwards."""
    dockerd = shutil.which("dockerd")
    # Prefer the CLI of the same docker.io package as the daemon.
    cli = shutil.which("docker", path=f"/usr/bin:{os.environ.get('PATH', '')}")
    if dockerd is None or cli is None:
        pytest.fail("dockerd / docker not found: run `make system-packages` (docker.io) as root")
    # Short paths: containerd's sockets live under the exec root (108-byte socket path limit).
    root = Path(tempfile.mkdtemp(prefix="smoke-docker-", dir="/tmp"))
    mount_tmpfs(root)
    (root / "tmp").mkdir()
    socket_path = root / "docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}", "TMPDIR": str(root / "tmp")}
    client = Docker(cli, env)
    try:
        with start_server(
            [
                dockerd,
                "--host",
                f"unix://{socket_path}",
                "--data-root",
                root / "data",
                "--exec-root",
                root / "exec",
                "--pidfile",
                root / "docker.pid",
            ],
            client.answers,
            timeout=60,
            log=root / "dockerd.log",
            stop_timeout=30,
        ):
            try:
                yield client
            finally:
                leftovers = client("ps", "-aq", "--filter", f"label={LABEL}", check=False)
                if leftovers.split():
                    client("rm", "-f", *leftovers.split(), check=False)
    finally:
        unmount_everything_under(root)  # the tmpfs, and what dockerd may leave (netns)
        shutil.rmtree(root)


def build_base_image(docker: Docker) -> str:
    """The stand-in for python:3.11-slim (deploy/docker/build_local_base.sh: Docker Hub is out
    of reach in CI)."""
    script = PROJECT_ROOT / "deploy" / "docker" / "build_local_base.sh"
    result = subprocess.run(
        [str(script), BASE_IMAGE],
        env={**docker.env, "DOCKER": docker.cli},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    return BASE_IMAGE


def build_image(docker: Docker, tag: str, **build_args: str) -> str:
    """The project's image from the checkout, on the stand-in base image."""
    arguments = [f"BASE_IMAGE={BASE_IMAGE}", *(f"{k}={v}" for k, v in build_args.items())]
    docker(
        "build",
        "--network",
        "host",  # package downloads during the build use the host's network settings
        *[part for argument in arguments for part in ("--build-arg", argument)],
        "--tag",
        tag,
        str(PROJECT_ROOT),
        timeout=900,
    )
    return tag


def registered_model_dir(trained: TrainedProject, target: Path) -> Path:
    """The registered model of a training run, downloaded into ``target`` and readable by the
    container's user (UID 999; pytest's temporary directories are private to root)."""
    # Through a client bound to the run's store: no global MLflow state left for other tests.
    client = MlflowClient(tracking_uri=trained.tracking_uri, registry_uri=trained.tracking_uri)
    stored = client.get_model_version_download_uri("sentiment", trained.version)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=stored, dst_path=str(target)))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return local


def run_model_container(docker: Docker, image: str, model_dir: Path) -> tuple[str, str]:
    """Start the API container on ``model_dir`` (mounted read-only), published on a free
    loopback port only: (base URL, container name). The caller removes it."""
    port = free_port()
    name = f"sentiment-smoke-{uuid.uuid4().hex[:8]}"
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--label",
        LABEL,
        "--publish",
        f"127.0.0.1:{port}:8000",
        "--volume",
        f"{model_dir}:{CONTAINER_MODEL}:ro",
        "--env",
        f"SENTIMENT_MODEL_URI={CONTAINER_MODEL}",
        image,
    )
    return f"http://127.0.0.1:{port}", name


@contextlib.contextmanager
def served_model(docker: Docker, image: str, model_dir: Path) -> Iterator[tuple[str, str]]:
    """:func:`run_model_container`, once it is ready to serve; removed afterwards."""
    base, name = run_model_container(docker, image, model_dir)

    def stopped() -> str | None:
        state = docker("inspect", "--format", "{{.State.Status}}", name).strip()
        return None if state == "running" else f"the container {name} is {state}"

    try:
        wait_until(
            lambda: answers(f"{base}/ready"),
            what=f"the container {name} ({base}/ready)",
            timeout=180,
            interval=1,
            gone=stopped,
            output=lambda: docker("logs", name, check=False),
        )
        yield base, name
    finally:
        docker("rm", "--force", name, check=False)


def post(url: str, payload: dict) -> tuple[int, dict]:
    """``POST url`` with a JSON body: (status, JSON answer), for errors too."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
