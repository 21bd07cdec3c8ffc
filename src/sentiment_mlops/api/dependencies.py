"""Request dependencies: settings, the loaded model, the /predict batcher, the optional API key.

They are ``async def`` because they never block: FastAPI runs a plain ``def`` dependency in
its thread pool, a hop to a thread and back for each of them on every request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from sentiment_mlops.api.batching import MicroBatcher
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import ScoredBy, ServedModel
from sentiment_mlops.api.model_updates import ModelFollower
from sentiment_mlops.api.prediction_log import FeedbackStore, PredictionLog
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


async def get_prediction_log(request: Request) -> PredictionLog:
    """The app's prediction log (it may be off: it still hands out prediction ids)."""
    return request.app.state.prediction_log


async def get_feedback_store(request: Request) -> FeedbackStore:
    """Where feedback labels are written."""
    return request.app.state.feedback_store


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
    """With SENTIMENT_API_KEY set, the X-API-Key header must match it (constant-time).

    :class:`~sentiment_mlops.api.middleware.GuardAndMeasure` checks it first, before the
    body is read; this makes the route's security part of the OpenAPI schema and keeps the
    route safe without the middleware.
    """
    error = key_error(require_api_key, [api_key] if api_key else [], request.app.state.settings)
    if error:
        raise error


async def require_admin_key(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """Admin routes need SENTIMENT_API_KEY set and the X-API-Key header to match it."""
    error = key_error(require_admin_key, [api_key] if api_key else [], request.app.state.settings)
    if error:
        raise error


def key_error(policy: Callable, keys: list[str], settings: Settings) -> APIError | None:
    """Why a request with X-API-Key values ``keys`` may not use a route guarded by ``policy``
    (:func:`require_api_key` or :func:`require_admin_key`), or ``None``. Two keys are refused:
    which one a proxy or the framework would read is not defined."""
    expected = settings.api_key
    if expected is None:
        if policy is require_admin_key:
            return APIError(
                403,
                "admin_disabled",
                "Admin routes are off: start the service with SENTIMENT_API_KEY set, and send "
                "it in the X-API-Key header.",
            )
        return None
    if len(keys) != 1 or not secrets.compare_digest(
        keys[0].encode(), expected.get_secret_value().encode()
    ):
        return APIError(
            401,
            "unauthorized",
            "Missing or wrong X-API-Key header (send exactly one).",
            headers={"WWW-Authenticate": "APIKey"},
        )
    return None


def route_key_policy(route: object) -> Callable | None:
    """The key check among a route's dependencies (its router's included), or ``None``."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if dependant.call in KEY_POLICIES:
            return dependant.call
        stack.extend(dependant.dependencies)
    return None


KEY_POLICIES = (require_api_key, require_admin_key)


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ModelDep = Annotated[ServedModel, Depends(get_model)]
FollowerDep = Annotated[ModelFollower, Depends(get_follower)]
BatcherDep = Annotated[MicroBatcher[str, ScoredBy], Depends(get_batcher)]
PredictionLogDep = Annotated[PredictionLog, Depends(get_prediction_log)]
FeedbackStoreDep = Annotated[FeedbackStore, Depends(get_feedback_store)]
