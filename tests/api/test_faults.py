"""The service survives its faults: a real server (``sentiment-mlops serve``, or uvicorn with
the same protocol) on loopback, driven by raw sockets where a client misbehaves.

Every bound is set low here so that a test runs in seconds; each test asserts the answer a
client gets past one bound, and that the service still answers afterwards.
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Service, start_service
from tests.support.faulty_service import BREAKS, STALLS
from tests.support.servers import free_port, start_server

pytestmark = pytest.mark.system

KEY = "fault-test-key"
AUTH = {"X-API-Key": KEY}
JSON = {"content-type": "application/json"}
LIMITS = {
    "SENTIMENT_API_KEY": KEY,
    "SENTIMENT_BODY_TIMEOUT_S": "1",
    "SENTIMENT_HEADER_TIMEOUT_S": "1",
    "SENTIMENT_MAX_HEADERS": "20",
    "SENTIMENT_MAX_HEADER_BYTES": "4096",
}
STALL_S = 2.0
# Longest any answer here may take: the 1 s timeouts plus a loaded CI machine's slack.
ANSWER_S = 10
# uvloop arms timers from its loop clock, cached once per loop iteration in whole
# milliseconds, so a 1 s deadline can fire a millisecond before 1 s of our clock.
CLOCK_SLACK_S = 0.01


@pytest.fixture(scope="module")
def guarded(trained_model, model_dir, tmp_path_factory) -> Iterator[Service]:
    """``sentiment-mlops serve`` with an API key and low bounds, on the champion's directory."""
    env = trained_model.env(SENTIMENT_MODEL_URI=model_dir, **LIMITS)
    service = start_service(tmp_path_factory.mktemp("guarded_cwd"), env)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def faulty(trained_model, model_dir, tmp_path_factory) -> Iterator[Service]:
    """The service whose model fails or stalls on chosen texts; one text scored at a time,
    one waiting, four requests at once."""
    env = trained_model.env(
        SENTIMENT_MODEL_URI=model_dir,
        SENTIMENT_MICRO_BATCH_MAX_SIZE="1",
        SENTIMENT_MICRO_BATCH_MAX_QUEUE="1",
        SENTIMENT_QUEUE_TIMEOUT_S="1",
        SENTIMENT_MAX_IN_FLIGHT="4",
        FAULTY_STALL_S=str(STALL_S),
        **LIMITS,
    )
    app = "tests.support.faulty_service:app"
    service = start_service(tmp_path_factory.mktemp("faulty_cwd"), env, app=app)
    yield service
    service.stop()


def raw_exchange(service: Service, data: bytes, *, wait_s: float = ANSWER_S) -> bytes:
    """Send ``data`` on a new connection, then read until the server closes it."""
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def status_and_error(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def still_answers(service: Service) -> None:
    with service.client(headers=AUTH) as client:
        assert client.post("/predict", json={"text": "great crew"}).status_code == 200


# Authentication first


def test_without_a_key_a_large_body_is_refused_before_it_is_read(guarded):
    declared = 5_600_000
    head = (
        f"POST /predict/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    # Only a sliver of the declared body is sent: the answer cannot wait for the rest.
    answer = raw_exchange(guarded, head + b'{"texts": ["' + b"a" * 1000)
    status, error = status_and_error(answer)
    assert (status, error["code"]) == (401, "unauthorized")
    assert b"connection: close" in answer.lower()
    assert time.monotonic() - started < ANSWER_S
    still_answers(guarded)


@pytest.mark.parametrize(
    ("content", "headers"),
    [(b"{not json", JSON), (b"text=hi", {"content-type": "text/plain"})],
    ids=["malformed JSON", "wrong content type"],
)
def test_without_a_key_a_bad_body_is_401_not_a_body_error(guarded, content, headers):
    with guarded.client() as client:
        answer = client.post("/predict", content=content, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_two_api_key_headers_are_refused(guarded):
    with guarded.client() as client:
        answer = client.post(
            "/predict",
            json={"text": "great crew"},
            headers=[("X-API-Key", KEY), ("X-API-Key", KEY)],
        )
    assert answer.status_code == 401
    assert "exactly one" in answer.json()["error"]["message"]


# Bounded everything


def test_a_stalled_body_gets_408(guarded):
    head = (
        f"POST /predict HTTP/1.1\r\nHost: test\r\nX-API-Key: {KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    started = time.monotonic()
    status, error = status_and_error(raw_exchange(guarded, head + b'{"text": "'))
    assert (status, error["code"]) == (408, "body_timeout")
    assert 1 - CLOCK_SLACK_S <= time.monotonic() - started < ANSWER_S
    still_answers(guarded)


def test_stalled_headers_get_408(guarded):
    started = time.monotonic()
    answer = raw_exchange(guarded, b"POST /predict HTTP/1.1\r\nHost: test\r\n")
    status, error = status_and_error(answer)
    assert (status, error["code"]) == (408, "header_timeout")
    assert 1 - CLOCK_SLACK_S <= time.monotonic() - started < ANSWER_S


def test_a_connection_that_sends_nothing_is_closed(guarded):
    started = time.monotonic()
    assert raw_exchange(guarded, b"") == b""
    assert 1 - CLOCK_SLACK_S <= time.monotonic() - started < ANSWER_S


@pytest.mark.parametrize(
    ("request_head", "status", "code"),
    [
        (
            b"GET /health HTTP/1.1\r\nHost: test\r\n"
            + b"".join(b"X-Extra-%d: 1\r\n" % number for number in range(25))
            + b"\r\n",
            431,
            "too_many_headers",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: test\r\nX-Endless: " + b"a" * 20000,
            431,
            "headers_too_large",
        ),
        (b"GET /health?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: test\r\n\r\n", 414, "uri_too_long"),
    ],
    ids=["too many headers", "one header too large", "an endless header", "request line"],
)
def test_oversized_request_heads_are_refused(guarded, request_head, status, code):
    answered_status, error = status_and_error(raw_exchange(guarded, request_head))
    assert (answered_status, error["code"]) == (status, code)
    still_answers(guarded)


def test_a_large_body_arriving_with_its_headers_is_not_counted_as_headers(guarded):
    # Headers and a 120 kB body in one write: the server may read them in one piece, in which
    # the header section ends and a whole request completes.
    body = json.dumps({"texts": ["the crew was great " * 200] * 30}).encode()
    head = (
        f"POST /predict/batch HTTP/1.1\r\nHost: test\r\nX-API-Key: {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(guarded, head + body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert len(json.loads(answer.partition(b"\r\n\r\n")[2])["predictions"]) == 30


def test_a_full_queue_and_a_slow_queue_get_503_with_retry_after(faulty):
    def predict(text: str) -> httpx.Response:
        with faulty.client(headers=AUTH) as client:
            return client.post("/predict", json={"text": text})

    with ThreadPoolExecutor(3) as pool:
        scored = pool.submit(predict, STALLS)  # holds the scorer for STALL_S
        time.sleep(0.5)
        waiting = pool.submit(predict, "great crew")  # queued: waits past its 1 s deadline
        time.sleep(0.3)
        refused = pool.submit(predict, "lovely flight")  # the one place in the queue is taken
        answers = [scored.result(), waiting.result(), refused.result()]
    assert [answer.status_code for answer in answers] == [200, 503, 503]
    assert [answer.json()["error"]["code"] for answer in answers[1:]] == [
        "queue_timeout",
        "queue_full",
    ]
    assert all(answer.headers["retry-after"] == "1" for answer in answers[1:])
    still_answers(faulty)


def test_past_max_in_flight_a_request_gets_503_with_retry_after(faulty):
    def explain(text: str) -> httpx.Response:
        with faulty.client(headers=AUTH) as client:
            return client.post("/predict?explain=true", json={"text": text})

    with ThreadPoolExecutor(4) as pool:
        stalled = [pool.submit(explain, STALLS) for _ in range(4)]  # explained in parallel
        time.sleep(1)
        with faulty.client(headers=AUTH) as client:
            refused = client.post("/predict", json={"text": "great crew"})
            health = client.get("/health")  # probes are not counted
        answers = [future.result() for future in stalled]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert refused.headers["retry-after"] == "1"
    assert health.status_code == 200


# An error is an answer


@pytest.mark.parametrize(
    ("path", "body"),
    [("/predict/batch", {"texts": ["fine", BREAKS]}), ("/predict?explain=true", {"text": BREAKS})],
    ids=["batch", "explain"],
)
def test_an_unexpected_error_is_a_json_500_on_a_connection_that_stays_usable(faulty, path, body):
    host, port = faulty.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=ANSWER_S)
    try:
        connection.request("POST", path, json.dumps(body), {**AUTH, **JSON})
        failed = connection.getresponse()
        failed_body = json.loads(failed.read())
        socket_before = connection.sock
        connection.request("POST", "/predict", json.dumps({"text": "great crew"}), {**AUTH, **JSON})
        answered = connection.getresponse()
        answered.read()
        assert connection.sock is socket_before  # the same connection carried the next request
    finally:
        connection.close()
    assert failed.status == 500
    assert failed_body == {
        "error": {
            "code": "internal_error",
            "message": "The service failed on this request; it has been logged.",
        }
    }
    assert failed.getheader("connection") != "close"
    assert answered.status == 200


# Scoring off the event loop


@pytest.mark.parametrize(
    ("path", "body"),
    [("/predict", {"text": STALLS}), ("/predict?explain=true", {"text": STALLS})],
    ids=["single text", "explanation"],
)
def test_probes_answer_while_the_model_works(faulty, path, body):
    with ThreadPoolExecutor(1) as pool:
        working = pool.submit(
            lambda: httpx.post(f"{faulty.url}{path}", json=body, headers=AUTH, timeout=ANSWER_S)
        )
        time.sleep(0.5)
        started = time.monotonic()
        with faulty.client() as client:
            probes = [client.get("/health"), client.get("/ready")]
        probe_s = time.monotonic() - started
        assert not working.done()  # the probes were answered while the model worked
        assert working.result().status_code == 200
    assert [probe.status_code for probe in probes] == [200, 200]
    assert probe_s < STALL_S / 2


# Small HTTP conventions


def test_head_on_the_probes(guarded):
    with guarded.client() as client:
        answers = [client.head("/health"), client.head("/ready")]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.content for answer in answers] == [b"", b""]


def test_a_trailing_slash_is_a_404_not_a_redirect(guarded):
    with guarded.client(headers={**AUTH, "Host": "evil.example"}) as client:
        answer = client.post("/predict/", json={"text": "great crew"})
    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_two_content_types_are_refused(guarded):
    with guarded.client() as client:
        answer = client.post(
            "/predict",
            content=b'{"text": "great crew"}',
            headers=[
                ("X-API-Key", KEY),
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain"),
            ],
        )
    assert answer.status_code == 415
    assert "in one header" in answer.json()["error"]["message"]


# Failures that must not be permanent


def test_the_first_load_is_retried_until_the_model_is_there(trained_model, model_dir, tmp_path):
    later = tmp_path / "model_arrives_later"
    env = trained_model.env(SENTIMENT_MODEL_URI=str(later))
    service = start_service(tmp_path, env, ready="/health")
    try:
        with service.client() as client:
            deadline = time.monotonic() + 60
            # Until the first try has failed, /ready says "still loading".
            while "failed to load" not in (waiting := client.get("/ready")).text:
                assert time.monotonic() < deadline, waiting.json()
                time.sleep(0.5)
            shutil.copytree(model_dir, later)
            deadline = time.monotonic() + 30  # backoff: 1, 2, 4, 8 s between tries
            while (ready := client.get("/ready")).status_code != 200:
                assert time.monotonic() < deadline, ready.json()
                time.sleep(0.5)
    finally:
        service.stop()
    assert waiting.status_code == 503
    assert str(later) in waiting.json()["error"]["message"]
    assert ready.json()["status"] == "ready"


def test_a_registry_down_at_boot_is_retried_until_it_answers(trained_model, tmp_path):
    registry_port = free_port()
    registry = f"http://127.0.0.1:{registry_port}"
    env = trained_model.env(
        MLFLOW_TRACKING_URI=registry,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",  # each try fails at once while nothing listens
        SENTIMENT_MODEL_URI="models:/sentiment@champion",
    )
    service = start_service(tmp_path, env, ready="/health")
    try:
        with service.client() as client:
            deadline = time.monotonic() + 60
            # Until the first try has failed, /ready says "still loading".
            while "cannot resolve" not in (waiting := client.get("/ready")).text:
                assert time.monotonic() < deadline, waiting.json()
                time.sleep(0.5)
            mlflow_command = [str(Path(sys.executable).parent / "mlflow"), "server"]
            mlflow_command += ["--backend-store-uri", trained_model.tracking_uri]
            mlflow_command += ["--host", "127.0.0.1", "--port", str(registry_port)]
            with start_server(
                mlflow_command,
                f"{registry}/health",
                timeout=90,
                cwd=tmp_path,
                env=trained_model.env(),
                log=tmp_path / "mlflow-server.log",
                stop_signal=signal.SIGKILL,
            ):
                deadline = time.monotonic() + 60  # backoff: 1, 2, 4, 8, 16 s between tries
                while (ready := client.get("/ready")).status_code != 200:
                    assert time.monotonic() < deadline, ready.json()
                    time.sleep(0.5)
                served = client.get("/model")
    finally:
        service.stop()
    assert waiting.status_code == 503
    assert waiting.json()["error"]["message"].startswith(
        "The model failed to load: cannot resolve models:/sentiment@champion"
    )
    assert served.json()["version"] == trained_model.version
