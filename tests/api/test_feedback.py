"""What the service saw, through the app: prediction ids, the log it writes, POST /feedback,
and the signals on /metrics. In-process, on the session's packaged model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.prediction_log import new_prediction_id
from sentiment_mlops.api.settings import Settings
from tests.api.conftest import wait_ready

pytestmark = pytest.mark.integration

KEY = "feedback-key"
AUTH = {"X-API-Key": KEY}


def settings_for(model_dir: str, root: Path, **overrides) -> Settings:
    values = {
        "model_uri": model_dir,
        "api_key": KEY,
        "prediction_log_dir": str(root / "predictions"),
        "feedback_dir": str(root / "feedback"),
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def client(model_dir, tmp_path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(model_dir, tmp_path))) as started:
        wait_ready(started)
        yield started


def read_folder(folder: Path) -> pd.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)


def metric(client: TestClient, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def test_each_prediction_has_an_id_and_is_logged(model_dir, tmp_path):
    with TestClient(create_app(settings_for(model_dir, tmp_path))) as client:
        wait_ready(client)
        one = client.post("/predict", json={"text": "my bag is lost again"}, headers=AUTH)
        batch = client.post(
            "/predict/batch", json={"texts": ["great crew", "gate 12"]}, headers=AUTH
        ).json()["predictions"]
    # leaving the client ran the lifespan's shutdown, which writes what is buffered
    assert one.headers["X-Prediction-Id"] == one.json()["prediction_id"]
    answers = [one.json(), *batch]
    assert len({answer["prediction_id"] for answer in answers}) == 3
    log = read_folder(tmp_path / "predictions").set_index("prediction_id")
    for answer, text in zip(
        answers, ["my bag is lost again", "great crew", "gate 12"], strict=True
    ):
        row = log.loc[answer["prediction_id"]]
        assert (row["text"], row["label"]) == (text, answer["label"])
        assert row["confidence"] == pytest.approx(answer["confidence"])


def test_feedback_is_stored_beside_the_log(client, tmp_path):
    answer = client.post("/predict", json={"text": "my bag is lost again"}, headers=AUTH).json()
    wrong = next(label for label in ("positive", "neutral") if label != answer["label"])
    receipt = client.post(
        "/feedback", json={"prediction_id": answer["prediction_id"], "label": wrong}, headers=AUTH
    )
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["predicted_label"] == answer["label"]
    assert receipt.json()["agrees"] is False
    stored = read_folder(tmp_path / "feedback")  # written before the answer
    assert stored[["prediction_id", "label", "predicted_label"]].values.tolist() == [
        [answer["prediction_id"], wrong, answer["label"]]
    ]
    assert metric(client, 'sentiment_feedback_total{agrees="false"}') == 1


def test_feedback_finds_a_prediction_another_worker_logged(model_dir, tmp_path):
    with TestClient(create_app(settings_for(model_dir, tmp_path))) as first:
        wait_ready(first)
        answer = first.post("/predict", json={"text": "great crew"}, headers=AUTH).json()
    with TestClient(create_app(settings_for(model_dir, tmp_path))) as second:
        wait_ready(second)
        receipt = second.post(
            "/feedback",
            json={"prediction_id": answer["prediction_id"], "label": answer["label"]},
            headers=AUTH,
        )
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["agrees"] is True


def test_bad_feedback_gets_a_clear_error(client):
    answer = client.post("/predict", json={"text": "gate 12"}, headers=AUTH).json()
    cases = {
        "unknown id": ({"prediction_id": new_prediction_id(), "label": "neutral"}, 404),
        "malformed id": ({"prediction_id": "abc", "label": "neutral"}, 422),
        "unknown label": ({"prediction_id": answer["prediction_id"], "label": "angry"}, 422),
        "missing label": ({"prediction_id": answer["prediction_id"]}, 422),
    }
    for name, (body, status) in cases.items():
        response = client.post("/feedback", json=body, headers=AUTH)
        assert response.status_code == status, (name, response.text)
        assert set(response.json()) == {"error"}, name
    unknown_label = client.post("/feedback", json=cases["unknown label"][0], headers=AUTH)
    assert "negative" in unknown_label.json()["error"]["message"]
    no_key = client.post("/feedback", json=cases["unknown id"][0])
    assert no_key.status_code == 401


def test_feedback_needs_the_service_to_have_a_key(model_dir, tmp_path):
    with TestClient(create_app(settings_for(model_dir, tmp_path, api_key=None))) as client:
        wait_ready(client)
        answer = client.post("/predict", json={"text": "gate 12"}).json()
        refused = client.post(
            "/feedback", json={"prediction_id": answer["prediction_id"], "label": "neutral"}
        )
    assert refused.status_code == 403
    assert "SENTIMENT_API_KEY" in refused.json()["error"]["message"]


def test_with_the_log_off_nothing_is_written(model_dir, tmp_path):
    settings = settings_for(model_dir, tmp_path, prediction_log_sample=0.0)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        answer = client.post("/predict", json={"text": "gate 12"}, headers=AUTH).json()
        feedback = client.post(
            "/feedback",
            json={"prediction_id": answer["prediction_id"], "label": "neutral"},
            headers=AUTH,
        )
    assert len(answer["prediction_id"]) == 24
    assert feedback.status_code == 404
    assert not (tmp_path / "predictions").exists()


def test_a_log_that_cannot_be_written_never_fails_a_request(model_dir, tmp_path):
    (tmp_path / "predictions").write_text("a file where the folder should be")
    (tmp_path / "feedback").write_text("a file where the folder should be")
    with TestClient(create_app(settings_for(model_dir, tmp_path))) as client:
        wait_ready(client)
        answer = client.post("/predict", json={"text": "gate 12"}, headers=AUTH)
        assert answer.status_code == 200
        client.app.state.prediction_log.flush()
        assert metric(client, "sentiment_prediction_log_write_failures_total") == 1
        feedback = client.post(
            "/feedback",
            json={"prediction_id": answer.json()["prediction_id"], "label": "neutral"},
            headers=AUTH,
        )
    assert feedback.status_code == 503  # not stored: the client is told to retry
    assert feedback.json()["error"]["code"] == "feedback_not_stored"


def test_metrics_show_confidence_and_text_length(client):
    texts = ["great crew", "my bag is lost again and again"]
    client.post("/predict/batch", json={"texts": texts}, headers=AUTH)
    assert metric(client, "sentiment_prediction_confidence_count") == 2
    assert metric(client, "sentiment_text_length_chars_sum") == sum(map(len, texts))
    assert metric(client, 'sentiment_text_length_chars_bucket{le="10.0"}') == 1
