"""The real service (uvicorn on loopback) serving a model registered by a real training run."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sentiment_mlops.mlflow_registry import split_fingerprint

pytestmark = pytest.mark.system

CLASSES = ["negative", "neutral", "positive"]
JSON = {"content-type": "application/json"}


def test_health_and_ready(service):
    with service.client() as client:
        assert client.get("/health").json() == {"status": "ok", "model_uri": None}
        ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model_uri": "models:/sentiment@champion"}


def test_predict_returns_label_confidence_scores_and_version(service, trained_model):
    with service.client() as client:
        answer = client.post("/predict", json={"text": "@united worst flight ever, bag lost"})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body["scores"]) == set(CLASSES)
    assert math.isclose(sum(body["scores"].values()), 1.0, abs_tol=1e-9)
    assert body["label"] == max(body["scores"], key=body["scores"].get)
    assert body["confidence"] == body["scores"][body["label"]]
    assert body["model_version"] == trained_model.version
    assert body["uncertain"] is False and body["explanation"] is None


def test_batch_answers_in_the_order_of_the_texts(service):
    texts = ["thanks, great crew!", "my flight was cancelled again", "what time is boarding?"]
    with service.client() as client:
        batch = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
        singles = [client.post("/predict", json={"text": text}).json() for text in texts]
    # Each answer is a prediction of its own, with its own id.
    assert len({answer.pop("prediction_id") for answer in batch + singles}) == 2 * len(texts)
    assert batch == singles


def test_explanation_lists_words_towards_and_against_the_label(service):
    with service.client() as client:
        body = client.post(
            "/predict", params={"explain": "true"}, json={"text": "worst delay ever, so rude"}
        ).json()
    explanation = body["explanation"]
    assert explanation["available"] is True
    towards = [item["weight"] for item in explanation["towards"]]
    against = [item["weight"] for item in explanation["against"]]
    assert towards and all(weight > 0 for weight in towards)
    assert towards == sorted(towards, reverse=True)
    assert all(weight < 0 for weight in against) and against == sorted(against)
    # word + char n-grams + VADER lexicon scores: the FeatureUnion's names say which part
    # each feature is from
    features = [item["feature"] for item in explanation["towards"] + explanation["against"]]
    assert all(name.startswith(("word__", "char__", "lexicon__vader_")) for name in features)


def test_model_card_names_data_code_and_metrics(service, trained_model):
    with service.client() as client:
        card = client.get("/model").json()
    train_split = pd.read_parquet(trained_model.workdir / "data/05_model_input/train_split.parquet")
    assert card["registered_name"] == "sentiment"
    assert card["version"] == trained_model.version
    assert "champion" in card["aliases"]
    assert card["run_id"] == trained_model.run_id
    assert card["source"] == "airline"
    assert card["train_data_sha256"] == split_fingerprint(train_split)
    assert len(card["git_commit"].removesuffix("-dirty")) == 40
    assert card["classes"] == CLASSES
    assert card["calibrated"] is True and card["explainable"] is True
    assert 0 < card["metrics"]["test.macro_f1"] <= 1
    assert 0 <= card["metrics"]["test.expected_calibration_error"] < 1


def test_metrics_count_requests_and_predictions(service):
    with service.client() as client:
        label = client.post("/predict", json={"text": "lovely crew, thank you"}).json()["label"]
        exposition = client.get("/metrics")
    assert exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text
    assert 'sentiment_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'sentiment_http_request_duration_seconds_bucket{le="0.005",route="/predict"}' in text
    assert f'sentiment_predictions_total{{label="{label}"}}' in text
    assert "sentiment_model_ready 1.0" in text


def test_openapi_docs_with_examples(service):
    with service.client() as client:
        assert client.get("/docs").status_code == 200
        schema = client.get("/openapi.json").json()
    assert {"/predict", "/predict/batch", "/health", "/ready", "/model", "/metrics"} <= set(
        schema["paths"]
    )
    assert schema["components"]["schemas"]["PredictRequest"]["examples"]


BAD_REQUESTS = [
    # (id, route, body bytes, headers, status, error code, words in the message)
    ("empty text", "/predict", b'{"text": ""}', JSON, 422, "invalid_request", "empty"),
    ("whitespace", "/predict", b'{"text": " \\n\\t "}', JSON, 422, "invalid_request", "whitespace"),
    ("non-string", "/predict", b'{"text": 42}', JSON, 422, "invalid_request", "valid string"),
    ("missing text", "/predict", b'{"texte": "hi"}', JSON, 422, "invalid_request", "required"),
    (
        "too long",
        "/predict",
        b'{"text": "' + b"a" * 5001 + b'"}',
        JSON,
        422,
        "text_too_long",
        "5001 characters; the limit is 5000",
    ),
    (
        "batch too long text",
        "/predict/batch",
        b'{"texts": ["ok", "' + b"a" * 5001 + b'"]}',
        JSON,
        422,
        "text_too_long",
        "texts[1] has 5001",
    ),
    (
        "batch non-string",
        "/predict/batch",
        b'{"texts": ["ok", null]}',
        JSON,
        422,
        "invalid_request",
        "texts[1]",
    ),
    (
        "batch blank",
        "/predict/batch",
        b'{"texts": ["ok", "  "]}',
        JSON,
        422,
        "invalid_request",
        "texts[1] must not be empty",
    ),
    ("empty batch", "/predict/batch", b'{"texts": []}', JSON, 422, "invalid_request", "at least 1"),
    (
        "batch too big",
        "/predict/batch",
        b'{"texts": [' + b",".join([b'"hi"'] * 1001) + b"]}",
        JSON,
        422,
        "batch_too_large",
        "1001 texts; the limit is 1000",
    ),
    (
        "invalid JSON",
        "/predict",
        b'{"text": "unterminated',
        JSON,
        400,
        "invalid_json",
        "not valid JSON",
    ),
    (
        "wrong content type",
        "/predict",
        b"text=hello",
        {"content-type": "text/plain"},
        415,
        "unsupported_media_type",
        "must be application/json",
    ),
    (
        "no content type",
        "/predict",
        b'{"text": "hi"}',
        {},
        415,
        "unsupported_media_type",
        "got 'none'",
    ),
    (
        "not UTF-8",
        "/predict",
        b'{"text": "caf\xe9"}',
        JSON,
        400,
        "invalid_encoding",
        "not valid UTF-8",
    ),
    (
        "body too large",
        "/predict/batch",
        b'{"texts": ["' + b"a" * 6_000_001 + b'"]}',
        JSON,
        413,
        "body_too_large",
        "6000000-byte limit",
    ),
]


@pytest.mark.parametrize(
    ("route", "content", "headers", "status", "code", "words"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_gets_a_clear_json_error(  # noqa: PLR0917 - one parameter per column
    service, route, content, headers, status, code, words
):
    with service.client() as client:
        answer = client.post(route, content=content, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == code
    assert words in error["message"]


def test_streamed_body_over_the_limit_is_refused(service):
    """No Content-Length (chunked upload): the limit is enforced while reading."""

    def chunks():
        yield b'{"texts": ["'
        for _ in range(70):
            yield b"a" * 100_000
        yield b'"]}'

    with service.client() as client:
        answer = client.post("/predict/batch", content=chunks(), headers=JSON)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_unknown_route_and_method_are_json_errors(service):
    with service.client() as client:
        missing, wrong_method = client.get("/nope"), client.get("/predict")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (
        405,
        "method_not_allowed",
    )


def test_no_per_request_log_lines(service):
    with service.client() as client:
        for _ in range(5):
            client.post("/predict", json={"text": "quiet please"})
    assert "POST /predict" not in service.log.read_text()
