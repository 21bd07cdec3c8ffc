"""Request dependencies: settings, the loaded model, the /predict batcher, the optional API key.

They are ``async def`` because they never block: FastAPI runs a plain ``def`` dependency in
its thread pool, a hop to a thread and back for each of them on every request.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from sentiment_mlops.api.batching import MicroBatcher
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.api.settings import Settings
from sentiment_mlops.prediction import TextScores

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed when SENTIMENT_API_KEY is set."
)


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's Prometheus metrics."""
    return request.app.state.metrics


async def get_model(request: Request) -> ServedModel:
    """The loaded model, or a 503 that says why there is none yet."""
    model = request.app.state.model
    if model is None:
        raise APIError(503, "model_not_ready", not_ready_message(request))
    return model


async def get_batcher(request: Request) -> MicroBatcher[str, TextScores]:
    """The /predict micro-batcher, or a 503 when the app is not running (or stopping)."""
    batcher = request.app.state.batcher
    if batcher is None:
        raise APIError(503, "not_running", "The service is not running; retry shortly.")
    return batcher


def not_ready_message(request: Request) -> str:
    """Why the model is not there: still loading, or failed (with the reason)."""
    state = request.app.state
    if state.load_error:
        return f"The model failed to load: {state.load_error}"
    return f"The model {state.settings.model_uri!r} is still loading; retry shortly."


async def require_api_key(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """With SENTIMENT_API_KEY set, the X-API-Key header must match it (constant-time)."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    if api_key is None or not secrets.compare_digest(
        api_key.encode(), expected.get_secret_value().encode()
    ):
        raise APIError(
            401,
            "unauthorized",
            "Missing or wrong X-API-Key header.",
            headers={"WWW-Authenticate": "APIKey"},
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ModelDep = Annotated[ServedModel, Depends(get_model)]
BatcherDep = Annotated[MicroBatcher[str, TextScores], Depends(get_batcher)]
