"""The app's settings and start-up, in-process, on the packaged model copied to a directory."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from sentiment_mlops.__main__ import serve
from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.model import UNCERTAIN_BELOW_METRIC
from sentiment_mlops.api.settings import Settings
from tests.api.conftest import wait_ready

UNCLEAR = "the flight"


@pytest.mark.integration
def test_ready_is_503_until_the_model_is_loaded(model_dir):
    app = create_app(Settings(model_uri=model_dir))
    client = TestClient(app)  # no lifespan yet: nothing has started loading the model
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["error"] == {
        "code": "model_not_ready",
        "message": f"The model {model_dir!r} is still loading; retry shortly.",
    }
    assert client.post("/predict", json={"text": "hi"}).status_code == 503
    assert client.get("/health").status_code == 200
    with TestClient(app) as started:  # the lifespan loads it
        wait_ready(started)
        assert started.post("/predict", json={"text": "hi"}).status_code == 200


@pytest.mark.unit
def test_ready_says_why_the_model_failed_to_load(tmp_path):
    missing = tmp_path / "no_model_here"
    with TestClient(create_app(Settings(model_uri=str(missing)))) as client:
        deadline = time.monotonic() + 30
        while "failed" not in client.get("/ready").json()["error"]["message"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["error"]["message"].startswith("The model failed to load: Cannot load")
    assert str(missing) in ready.json()["error"]["message"]


@pytest.mark.integration
def test_local_model_directory_is_served_with_a_card(model_dir, trained_model):
    with TestClient(create_app(Settings(model_uri=model_dir))) as client:
        wait_ready(client)
        card = client.get("/model").json()
    assert card["run_id"] == trained_model.run_id
    assert card["version"] is None and card["registered_name"] is None
    assert card["classes"] == ["negative", "neutral", "positive"]
    # A directory has no run metrics to read the threshold from: SENTIMENT_MIN_CONFIDENCE sets it.
    assert (card["uncertain_below"], card["min_confidence_from"]) == (None, "none")


@pytest.mark.integration
def test_api_key_is_required_when_set(model_dir):
    settings = Settings(model_uri=model_dir, api_key="s3cret-key")
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        missing = client.post("/predict", json={"text": "hi"})
        wrong = client.post("/predict", json={"text": "hi"}, headers={"X-API-Key": "s3cret-kez"})
        right = client.post("/predict", json={"text": "hi"}, headers={"X-API-Key": "s3cret-key"})
        card = client.get("/model")
        health = client.get("/health")
    for refused in (missing, wrong, card):
        assert refused.status_code == 401
        assert refused.json()["error"] == {
            "code": "unauthorized",
            "message": "Missing or wrong X-API-Key header (send exactly one).",
        }
    assert right.status_code == 200
    assert health.status_code == 200  # probes need no key


@pytest.mark.integration
def test_min_confidence_marks_unsure_answers_uncertain(model_dir):
    with TestClient(create_app(Settings(model_uri=model_dir, min_confidence=0.99))) as strict:
        wait_ready(strict)
        unsure = strict.post("/predict", json={"text": UNCLEAR}).json()
    assert unsure["confidence"] < 0.99
    assert unsure["uncertain"] is True
    with TestClient(create_app(Settings(model_uri=model_dir))) as default:
        wait_ready(default)
        plain = default.post("/predict", json={"text": UNCLEAR}).json()
    assert plain["uncertain"] is False
    assert plain["scores"] == unsure["scores"]


@pytest.mark.integration
def test_the_threshold_recorded_with_the_model_marks_answers_uncertain(trained_model, monkeypatch):
    """Without SENTIMENT_MIN_CONFIDENCE, the registered version's own validation threshold."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
    recorded = MlflowClient().get_run(trained_model.run_id).data.metrics[UNCERTAIN_BELOW_METRIC]
    assert recorded > 0, "the session's small model should have an unreliable low-confidence group"
    uri = f"models:/sentiment/{trained_model.version}"
    texts = [UNCLEAR, "worst flight ever, bag lost", "thanks, great crew!", "is it on time?"]
    with TestClient(create_app(Settings(model_uri=uri))) as client:
        wait_ready(client)
        card = client.get("/model").json()
        answers = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    assert (card["uncertain_below"], card["min_confidence"]) == (recorded, recorded)
    assert card["min_confidence_from"] == "model"
    assert [answer["uncertain"] for answer in answers] == [
        answer["confidence"] < recorded for answer in answers
    ]
    with TestClient(create_app(Settings(model_uri=uri, min_confidence=0.0))) as overridden:
        wait_ready(overridden)
        card = overridden.get("/model").json()
        answers = overridden.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    assert (card["min_confidence"], card["min_confidence_from"]) == (0.0, "setting")
    assert card["uncertain_below"] == recorded
    assert not any(answer["uncertain"] for answer in answers)


@pytest.mark.unit
def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_TEXT_LENGTH", "20")
    monkeypatch.setenv("SENTIMENT_MIN_CONFIDENCE", "0.6")
    settings = Settings()
    assert (settings.max_text_length, settings.min_confidence) == (20, 0.6)
    assert settings.model_uri == "models:/sentiment@champion"
    assert (settings.max_batch_size, settings.api_key) == (1000, None)


@pytest.mark.unit
def test_serve_refuses_a_bad_setting_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_HEADERS", "many")
    result = CliRunner().invoke(serve, ["--port", "8000"])
    assert result.exit_code == 2
    assert "Invalid SENTIMENT_* setting" in result.output
    assert "max_headers" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
