"""Concurrent /predict requests scored together still get each its own answer (real service)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.settings import Settings
from tests.api.conftest import Service, start_service, wait_ready

CONCURRENT = 40


@pytest.fixture(scope="module")
def batching_service(trained_model, tmp_path_factory) -> Iterator[Service]:
    """The service with batches of up to 40 that wait up to a second to fill: requests sent
    together are batched whatever the machine's load (a full batch is scored at once)."""
    settings = {
        "SENTIMENT_MICRO_BATCH_MAX_SIZE": str(CONCURRENT),
        "SENTIMENT_MICRO_BATCH_MAX_WAIT_MS": "1000",
    }
    running = start_service(tmp_path_factory.mktemp("batching_cwd"), trained_model.env(**settings))
    yield running
    running.stop()


def batch_sizes(client: httpx.Client) -> dict[str, float]:
    """``sentiment_predict_batch_size`` samples: ``_count``, ``_sum`` and ``le=<bucket>``."""
    name = "sentiment_predict_batch_size"
    families = text_string_to_metric_families(client.get("/metrics").text)
    samples = next(family for family in families if family.name == name).samples
    return {
        sample.labels.get("le", sample.name.removeprefix(name)): sample.value for sample in samples
    }


async def post_together(url: str, texts: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(texts))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))


@pytest.mark.system
def test_concurrent_requests_each_get_the_answer_their_text_gets_alone(
    batching_service, service, trained_model
):
    test_split = pd.read_parquet(trained_model.workdir / "data/05_model_input/test_split.parquet")
    texts = list(dict.fromkeys(test_split["text"]))[:CONCURRENT]
    assert len(texts) == CONCURRENT

    together = asyncio.run(post_together(batching_service.url, texts))
    with service.client() as client:  # the default service, one request at a time
        alone = [client.post("/predict", json={"text": text}).json() for text in texts]

    assert [answer.status_code for answer in together] == [200] * CONCURRENT
    together = [answer.json() for answer in together]
    assert [answer["label"] for answer in together] == [answer["label"] for answer in alone]
    classes = sorted(alone[0]["scores"])
    np.testing.assert_allclose(
        [[answer["confidence"], *(answer["scores"][c] for c in classes)] for answer in together],
        [[answer["confidence"], *(answer["scores"][c] for c in classes)] for answer in alone],
        rtol=0,
        atol=1e-9,
    )
    # The texts differ, and so do their answers: a mix-up between requests would show.
    assert len({answer["confidence"] for answer in alone}) > CONCURRENT // 2

    with batching_service.client() as client:
        sizes = batch_sizes(client)
    assert sizes["_sum"] == CONCURRENT  # every text scored once, through the batcher
    assert sizes["1.0"] < sizes["_count"]  # at least one model call scored several texts


@dataclass(frozen=True)
class FailsOn:
    """The served model, except that scoring a batch holding ``text`` raises."""

    text: str
    model: Any

    def predict(self, texts: list[str]) -> Any:
        if self.text in texts:
            raise RuntimeError("simulated scoring failure")
        return self.model.predict(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


@pytest.mark.integration
def test_a_scoring_failure_is_a_json_error_and_the_next_request_is_answered(model_dir):
    app = create_app(Settings(model_uri=model_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        follower = app.state.follower
        follower.served = FailsOn("this one breaks the model", follower.served)
        failed = client.post("/predict", json={"text": "this one breaks the model"})
        answered = client.post("/predict", json={"text": "great crew, thanks"})
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/json"
    assert failed.json() == {
        "error": {
            "code": "prediction_failed",
            "message": "The model failed to score the batch of 1 text(s) this one was in; "
            "the error has been logged. Retry; if it persists, report it.",
        }
    }
    assert answered.status_code == 200
    assert answered.json()["label"] in {"negative", "neutral", "positive"}


@pytest.mark.unit
def test_micro_batch_settings_come_from_the_environment(monkeypatch):
    assert (Settings().micro_batch_max_size, Settings().micro_batch_max_wait_ms) == (64, 0.0)
    monkeypatch.setenv("SENTIMENT_MICRO_BATCH_MAX_SIZE", "8")
    monkeypatch.setenv("SENTIMENT_MICRO_BATCH_MAX_WAIT_MS", "2.5")
    assert (Settings().micro_batch_max_size, Settings().micro_batch_max_wait_ms) == (8, 2.5)
    monkeypatch.setenv("SENTIMENT_MICRO_BATCH_MAX_WAIT_MS", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings()
