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
from sentiment_mlops.api.model import ScoredBy, ServedModel
from sentiment_mlops.api.model_updates import ModelFollower
from sentiment_mlops.api.settings import Settings

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed when SENTIMENT_API_KEY is set."
)


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's Prometheus metrics."""
    return request.app.state.metrics


async def get_follower(request: Request) -> ModelFollower:
    """What loads the model and keeps it in step with its alias."""
    return request.app.state.follower


async def get_model(request: Request) -> ServedModel:
    """The loaded model, or a 503 that says why there is none yet."""
    model = request.app.state.follower.served
    if model is None:
        raise APIError(503, "model_not_ready", not_ready_message(request))
    return model


async def get_batcher(request: Request) -> MicroBatcher[str, ScoredBy]:
    """The /predict micro-batcher, or a 503 when the app is not running (or stopping)."""
    batcher = request.app.state.batcher
    if batcher is None:
        raise APIError(503, "not_running", "The service is not running; retry shortly.")
    return batcher


def not_ready_message(request: Request) -> str:
    """Why the model is not there: still loading, or failed (with the reason)."""
    state = request.app.state
    if state.follower.load_error:
        return f"The model failed to load: {state.follower.load_error}"
    return f"The model {state.settings.model_uri!r} is still loading; retry shortly."


async def require_api_key(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """With SENTIMENT_API_KEY set, the X-API-Key header must match it (constant-time)."""
    expected = request.app.state.settings.api_key
    if expected is not None:
        _check_key(api_key, expected.get_secret_value())


async def require_admin_key(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """Admin routes need SENTIMENT_API_KEY set and the X-API-Key header to match it."""
    expected = request.app.state.settings.api_key
    if expected is None:
        raise APIError(
            403,
            "admin_disabled",
            "Admin routes are off: start the service with SENTIMENT_API_KEY set, and send it "
            "in the X-API-Key header.",
        )
    _check_key(api_key, expected.get_secret_value())


def _check_key(given: str | None, expected: str) -> None:
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise APIError(
            401,
            "unauthorized",
            "Missing or wrong X-API-Key header.",
            headers={"WWW-Authenticate": "APIKey"},
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ModelDep = Annotated[ServedModel, Depends(get_model)]
FollowerDep = Annotated[ModelFollower, Depends(get_follower)]
BatcherDep = Annotated[MicroBatcher[str, ScoredBy], Depends(get_batcher)]
