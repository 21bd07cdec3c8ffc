"""``sentiment-mlops serve --workers 2``: two processes answer, and /metrics adds them up."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.api.conftest import start_service

pytestmark = pytest.mark.system

REQUESTS = 120


def predict_count(metrics: str) -> float:
    """``sentiment_http_requests_total`` of ``POST /predict`` answered 200, from an exposition."""
    pattern = (
        r'^sentiment_http_requests_total\{(?=[^}]*method="POST")(?=[^}]*route="/predict")'
        r'(?=[^}]*status="200")[^}]*\} (\S+)$'
    )
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


def test_two_workers_share_the_load_and_the_metrics(trained_model, model_dir, tmp_path):
    env = trained_model.env(SENTIMENT_MODEL_URI=model_dir)
    service = start_service(tmp_path, env, workers=2)
    try:
        # /ready answered by one worker; the gauge is 1 once every worker has loaded the model.
        deadline = time.monotonic() + 120
        while "sentiment_model_ready 1.0" not in httpx.get(f"{service.url}/metrics").text:
            assert time.monotonic() < deadline, "not every worker loaded the model"
            time.sleep(0.5)
        for _ in range(REQUESTS):
            # A new connection per request: the kernel hands each to either worker.
            answer = httpx.post(f"{service.url}/predict", json={"text": "great crew"}, timeout=30)
            assert answer.status_code == 200
        # Each scrape on a new connection too: answered by one worker or the other.
        scrapes = [httpx.get(f"{service.url}/metrics", timeout=30).text for _ in range(6)]
        ready = httpx.get(f"{service.url}/ready", timeout=30)
        log = service.log.read_text()
    finally:
        service.stop()
    pids = set(re.findall(r"Started server process \[(\d+)\]", log))
    assert len(pids) == 2, log[-3000:]
    assert [predict_count(scrape) for scrape in scrapes] == [REQUESTS] * 6
    assert all("sentiment_model_ready 1.0" in scrape for scrape in scrapes)
    assert ready.status_code == 200
