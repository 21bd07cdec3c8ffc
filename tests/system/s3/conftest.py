"""A real S3 server (Ceph RGW on 127.0.0.1) and an MLflow server on it, shared by the S3 tests.

One Ceph cluster per test session (starting one takes ~12 s): ``start_rgw.sh`` and
``stop_rgw.sh`` next to this file are the project's own scripts, also usable by hand. Each
test module takes its own bucket, so modules do not see each other's objects.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import s3fs
from mlflow.tracking import MlflowClient

from tests.support.projects import kedro, run_command, use_test_candidates
from tests.support.servers import free_port, start_server

HERE = Path(__file__).parent
PROJECT_ROOT = HERE.parents[2]
CEPH_TOOLS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph-authtool", "monmaptool")
# The real source used by the S3 runs: 3 000 sentences, its true files, small enough for CI.
SOURCE = "uci"
# Kept small so a fault shows up in seconds rather than after minutes of retries.
BOUNDED_RETRIES = {"AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"}


@dataclass(frozen=True)
class S3Server:
    """Where the S3 server listens and the keys of its one user."""

    endpoint_url: str
    access_key: str
    secret_key: str

    def env(self, **extra: str) -> dict[str, str]:
        """The process environment a client (Kedro, DVC, MLflow) needs to reach this server."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            **BOUNDED_RETRIES,
            **extra,
        }

    def filesystem(self) -> s3fs.S3FileSystem:
        """A fresh s3fs client (no listing cache shared with other tests)."""
        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            client_kwargs={"endpoint_url": self.endpoint_url},
            skip_instance_cache=True,
        )

    def new_bucket(self, prefix: str) -> str:
        """Create a bucket with a unique name (S3 clients such as DVC do not create one)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.filesystem().mkdir(name)
        return name


@dataclass(frozen=True)
class MlflowServer:
    """A running tracking server and the bucket that holds its artifacts."""

    uri: str
    artifacts_bucket: str


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Ceph RGW on 127.0.0.1, started once for the session and stopped at its end."""
    missing = [tool for tool in CEPH_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"Ceph is not installed (missing {', '.join(missing)}): run `make system-packages` "
            "(installs ceph-mon ceph-osd radosgw ceph-common from system-packages.txt)."
        )
    cluster_dir = tmp_path_factory.mktemp("ceph")
    ports = [free_port() for _ in range(3)]
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports[0]}",
        access_key=uuid.uuid4().hex[:20].upper(),
        secret_key=uuid.uuid4().hex,
    )
    started = subprocess.run(
        [
            HERE / "start_rgw.sh",
            cluster_dir,
            *map(str, ports),
            server.access_key,
            server.secret_key,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    try:
        if started.returncode != 0:
            logs = "\n".join(p.read_text()[-2000:] for p in (cluster_dir / "log").glob("*.log"))
            pytest.fail(f"start_rgw.sh failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        yield server
    finally:
        subprocess.run([HERE / "stop_rgw.sh", cluster_dir], timeout=60, check=False)


@pytest.fixture(scope="session")
def mlflow_server(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """``mlflow server`` on 127.0.0.1: SQLite backend, artifacts proxied to an S3 bucket."""
    bucket = s3_server.new_bucket("mlflow")
    workdir = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with start_server(
        [
            Path(sys.executable).parent / "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination",
            f"s3://{bucket}/artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        f"{uri}/health",
        timeout=90,
        cwd=workdir,
        env=s3_server.env(MLFLOW_S3_ENDPOINT_URL=s3_server.endpoint_url),
        log=workdir / "server.log",
        # A graceful stop waits ~25 s for idle connections; its SQLite store is thrown away.
        stop_signal=signal.SIGKILL,
        stop_timeout=15,
    ):
        yield MlflowServer(uri=uri, artifacts_bucket=bucket)


def copy_project(destination: Path) -> Path:
    """Copy the project's versioned files (what a clean clone has) to ``destination``, with
    conf/test's small candidate set in its conf/base: these tests are about S3 and DVC.

    Data files of this checkout (earlier runs) stay behind, except the committed pointers.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / relative
        is_data = relative.startswith("data/") and not relative.endswith((".dvc", ".gitkeep"))
        if source.is_file() and not is_data:
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    use_test_candidates(destination)
    return destination


def mirror_dir() -> Path:
    """The raw data mirror as an absolute path (tests run kedro from copies of the project)."""
    return (PROJECT_ROOT / os.environ.get("SENTIMENT_DATA_MIRROR", "../shared/data")).resolve()


def object_etags(server: S3Server, root: str) -> dict[str, str]:
    """Every object under ``bucket/prefix`` with its ETag: a cheap fingerprint of its content."""
    filesystem = server.filesystem()
    return {path: info["ETag"] for path, info in filesystem.find(root, detail=True).items()}


def local_files(project: Path) -> set[str]:
    """Files under ``project``, relative, leaving out logs, Python caches and kedro-viz's
    run statistics (``.viz/``, git-ignored run metadata like the logs)."""
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and path.suffix != ".log"
        and not {"__pycache__", ".viz"} & set(path.relative_to(project).parts)
    }


def tracked_runs(uri: str) -> set[str]:
    """Ids of the top-level runs (one per `kedro run`, not the nested candidate runs)."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("sentiment_mlops")
    if experiment is None:
        return set()
    runs = client.search_runs([experiment.experiment_id])
    return {run.info.run_id for run in runs if "mlflow.parentRunId" not in run.data.tags}


@dataclass
class AwsProject:
    """A copy of the project that ran ``kedro run --env aws`` twice against the S3 server."""

    path: Path
    env: dict[str, str]
    root: str  # bucket/prefix that holds the datasets
    files_before: set[str]
    etags_after_first_run: dict[str, str]
    runs: list[subprocess.CompletedProcess]
    run_ids: list[str]  # the MLflow run of each `kedro run`, in order


@pytest.fixture(scope="session")
def aws_project(
    s3_server: S3Server, mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> AwsProject:
    """Upload the raw files of SOURCE, then run every pipeline with ``--env aws`` twice."""
    bucket = s3_server.new_bucket("kedro")
    project = copy_project(tmp_path_factory.mktemp("aws-project"))
    env = s3_server.env(
        SENTIMENT_S3_BUCKET=bucket,
        SENTIMENT_S3_PREFIX="sentiment",
        SENTIMENT_DATA_MIRROR=str(mirror_dir()),
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
    )
    files_before = local_files(project)
    upload = run_command(
        [sys.executable, "-m", "sentiment_mlops", "upload-raw", "--source", SOURCE, "--env", "aws"],
        project,
        env,
        timeout=120,
    )
    assert upload.returncode == 0, upload.stderr[-3000:]
    runs = []
    run_ids: list[str] = []
    etags_after_first_run: dict[str, str] = {}
    for attempt in range(2):
        runs_before = tracked_runs(mlflow_server.uri)
        run = kedro(project, "run", "--env", "aws", "--params", f"source={SOURCE}", env=env)
        assert run.returncode == 0, (
            f"kedro run --env aws failed:\n{run.stdout[-4000:]}{run.stderr[-4000:]}"
        )
        runs.append(run)
        (run_id,) = tracked_runs(mlflow_server.uri) - runs_before
        run_ids.append(run_id)
        if attempt == 0:
            etags_after_first_run = object_etags(s3_server, f"{bucket}/sentiment")
    return AwsProject(
        project, env, f"{bucket}/sentiment", files_before, etags_after_first_run, runs, run_ids
    )
