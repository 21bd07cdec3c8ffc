"""A new champion reaches the running service by itself; a broken one never serves; rollback.

One MLflow store holds two real training runs (the session's project and a second `kedro run`
of a copy, same data and parameters) and a version 3 that is not a packaged Kedro model. A
uvicorn process follows ``models:/sentiment@champion``, polling every half second, while the
alias is moved with ``sentiment-mlops promote``.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from mlflow.tracking import MlflowClient

from tests.api.conftest import Service, start_service
from tests.support.projects import VENV_BIN, TrainedProject, kedro, run_command

pytestmark = pytest.mark.system

NAME, ALIAS = "sentiment", "champion"
API_KEY = "test-admin-key"
POLL_S = 0.5
SWAP_TIMEOUT_S = 90
LOAD_THREADS = 4
MAX_REQUESTS_PER_THREAD = 20_000  # a bound; the loop stops once the swap has been seen
HEADERS = {"X-API-Key": API_KEY}

# Registers a scikit-learn model (not a packaged Kedro pipeline) as a new version, with the
# score tags a training run leaves, in the store of MLFLOW_TRACKING_URI; prints the version.
_REGISTER_NOT_A_KEDRO_MODEL = """
import sys, mlflow
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier
model = DummyClassifier().fit([[0], [1], [2]], ["negative", "neutral", "positive"])
with mlflow.start_run():
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="sentiment")
client = MlflowClient()
version = str(info.registered_model_version)
for key, value in zip(sys.argv[1::2], sys.argv[2::2]):
    client.set_model_version_tag("sentiment", version, key, value)
print(version)
"""


@dataclass
class Registry:
    project: TrainedProject
    client: MlflowClient
    broken_version: str

    def promote(self, *args: str):
        return run_command(
            [VENV_BIN / "sentiment-mlops", "promote", *args], self.project.workdir, self.env()
        )

    def env(self, **extra: str) -> dict[str, str]:
        return self.project.env(**extra)


@pytest.fixture(scope="module")
def registry(trained_model: TrainedProject, tmp_path_factory) -> Registry:
    project = trained_model.copy(tmp_path_factory.mktemp("following") / "project")
    second = kedro(project.workdir, "run", env=project.env())
    assert second.returncode == 0, second.stderr[-4000:]
    client = MlflowClient(project.tracking_uri, registry_uri=project.tracking_uri)
    assert {str(v.version) for v in client.search_model_versions(f"name='{NAME}'")} == {"1", "2"}
    # Same data, parameters and seed: as good as version 1, so the run promoted it.
    assert str(client.get_model_version_by_alias(NAME, ALIAS).version) == "2"
    first_tags = client.get_model_version(NAME, "1").tags
    scored_lowest = {**first_tags, "test_macro_f1": "0.0"}
    registered = run_command(
        [sys.executable, "-c", _REGISTER_NOT_A_KEDRO_MODEL, *sum(scored_lowest.items(), ())],
        project.workdir,
        project.env(),
    )
    assert registered.returncode == 0, registered.stderr[-4000:]
    client.set_registered_model_alias(NAME, ALIAS, "1")  # the service starts on version 1
    return Registry(project, client, registered.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def following(registry: Registry, tmp_path_factory) -> Iterator[Service]:
    env = registry.env(SENTIMENT_MODEL_POLL_S=str(POLL_S), SENTIMENT_API_KEY=API_KEY)
    service = start_service(tmp_path_factory.mktemp("following_cwd"), env)
    yield service
    service.stop()


def served(service: Service) -> dict:
    with service.client(headers=HEADERS) as client:
        return client.get("/model").raise_for_status().json()


def wait_for(service: Service, condition, what: str) -> dict:
    deadline = time.monotonic() + SWAP_TIMEOUT_S
    while time.monotonic() < deadline:
        status = served(service)
        if condition(status):
            return status
        time.sleep(0.2)
    pytest.fail(
        f"{what} within {SWAP_TIMEOUT_S} s; /model says {status}\n{service.log.read_text()[-3000:]}"
    )


@dataclass
class LoadLoop:
    """Concurrent /predict requests until stopped (bounded in count), recording each answer."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers=HEADERS) as client:
            for _ in range(MAX_REQUESTS_PER_THREAD):
                if self.stop.is_set():
                    return
                try:
                    answer = client.post("/predict", json={"text": "the flight was delayed again"})
                    outcome = (answer.status_code, answer.json().get("model_version"))
                except httpx.HTTPError as error:
                    outcome = ("error", type(error).__name__)
                with self.lock:
                    self.outcomes[outcome] += 1

    def __enter__(self) -> LoadLoop:
        self.threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_promoted_version_is_swapped_in_under_load_without_a_failed_request(
    registry: Registry, following: Service
) -> None:
    assert served(following)["version"] == "1"
    with LoadLoop(following.url) as load:
        time.sleep(1)
        promoted_at = datetime.now(UTC)
        promoted = registry.promote("--version", "2")
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        status = wait_for(following, lambda s: s["version"] == "2", "version 2 is not served")
        time.sleep(1)
    assert status["follows"] == f"models:/{NAME}@{ALIAS}"
    assert datetime.fromisoformat(status["loaded_at"]) > promoted_at
    assert set(load.outcomes) == {(200, "1"), (200, "2")}, load.outcomes
    assert sum(load.outcomes.values()) > 10 * LOAD_THREADS
    with following.client() as client:
        assert "sentiment_model_swaps_total 1.0" in client.get("/metrics").text


def test_broken_version_is_not_served_and_says_why_until_the_alias_moves_back(
    registry: Registry, following: Service
) -> None:
    refused = registry.promote("--version", registry.broken_version)
    assert refused.returncode == 1
    assert "Add --force" in refused.stderr
    forced = registry.promote("--version", registry.broken_version, "--force")
    assert forced.returncode == 0, forced.stderr
    broken = registry.broken_version
    status = wait_for(
        following,
        lambda s: s["last_check"]["outcome"] == "failed" and s["last_check"]["version"] == broken,
        f"the failure of version {broken} is not reported",
    )
    assert status["version"] == "2"
    assert "not a packaged Kedro pipeline" in status["last_check"]["reason"]
    failures = f'sentiment_model_load_failures_total{{version="{broken}"}}'
    with following.client(headers=HEADERS) as client:
        answer = client.post("/predict", json={"text": "lost my bag"}).raise_for_status()
        assert answer.json()["model_version"] == "2"
        assert f"{failures} 1.0" in client.get("/metrics").text
        time.sleep(4 * POLL_S)  # polls in between do not try it again
        assert served(following)["last_check"] == status["last_check"]
        assert f"{failures} 1.0" in client.get("/metrics").text
        check = client.post("/admin/reload").raise_for_status().json()  # an operator retries it
        assert check["outcome"] == "failed" and check["version"] == broken
        assert f"{failures} 2.0" in client.get("/metrics").text
    assert served(following)["version"] == "2"

    registry.client.set_registered_model_alias(NAME, ALIAS, "2")
    cleared = wait_for(
        following, lambda s: s["last_check"]["outcome"] == "unchanged", "the failure is not cleared"
    )
    assert cleared["version"] == "2" and cleared["last_check"]["version"] == "2"


def test_rollback_is_one_command_and_the_service_follows(
    registry: Registry, following: Service
) -> None:
    # --force: version 1 may have scored a hair below version 2 (the same run, repeated).
    rolled_back = registry.promote("--version", "1", "--force")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert "version 1 is now 'champion'" in rolled_back.stdout
    assert str(registry.client.get_model_version_by_alias(NAME, ALIAS).version) == "1"
    wait_for(following, lambda s: s["version"] == "1", "the rollback to version 1 is not served")


def test_unknown_version_is_a_clear_error(registry: Registry) -> None:
    missing = registry.promote("--version", "99")
    assert missing.returncode == 2
    assert "has no version 99" in missing.stderr and "Traceback" not in missing.stderr


def test_reload_needs_the_api_key(following: Service) -> None:
    with following.client() as client:
        assert client.post("/admin/reload").status_code == 401
        wrong = client.post("/admin/reload", headers={"X-API-Key": "wrong"})
        assert wrong.status_code == 401


def _version_gauges(metrics: str) -> dict[str, float]:
    pattern = r'^sentiment_model_version\{version="([^"]+)"\} (\S+)$'
    return {version: float(value) for version, value in re.findall(pattern, metrics, re.M)}


def test_a_dead_worker_does_not_keep_its_version_on_metrics(registry: Registry, tmp_path) -> None:
    """Two workers follow the alias; one is killed and uvicorn starts another; after the next
    swap /metrics says only the new version is served (the dead worker's gauge is gone)."""
    registry.client.set_registered_model_alias(NAME, ALIAS, "1")
    env = registry.env(SENTIMENT_MODEL_POLL_S=str(POLL_S), SENTIMENT_API_KEY=API_KEY)
    service = start_service(tmp_path, env, workers=2)
    started = r"Started server process \[(\d+)\]"

    def scrape() -> str:  # a new connection: either worker answers
        return httpx.get(f"{service.url}/metrics", timeout=30).text

    def wait_until(condition, what: str) -> None:
        deadline = time.monotonic() + SWAP_TIMEOUT_S
        while not condition():
            assert time.monotonic() < deadline, f"{what}\n{service.log.read_text()[-3000:]}"
            time.sleep(0.3)

    try:
        wait_until(lambda: len(re.findall(started, service.log.read_text())) == 2, "2 workers")
        wait_until(lambda: "sentiment_model_ready 1.0" in scrape(), "workers not ready")
        victim = int(re.findall(started, service.log.read_text())[0])
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(re.findall(started, service.log.read_text())) == 3, "no new worker")
        wait_until(lambda: "sentiment_model_ready 1.0" in scrape(), "the new worker not ready")
        registry.client.set_registered_model_alias(NAME, ALIAS, "2")
        wait_until(
            lambda: all(_version_gauges(scrape()).get("1") == 0.0 for _ in range(4)),
            "version 1 is still reported as served",
        )
        gauges = [_version_gauges(scrape()) for _ in range(4)]
    finally:
        service.stop()
    assert all(gauge == {"1": 0.0, "2": 1.0} for gauge in gauges), gauges
