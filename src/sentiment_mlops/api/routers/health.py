"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sentiment_mlops.api.dependencies import not_ready_message
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.schemas import ErrorResponse, Status

router = APIRouter(tags=["health"])


# HEAD for probes that send it; out of the schema, where it would repeat the GET route.
@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=Status, summary="The process is alive")
def health() -> Status:
    """Always 200 while the process answers (the model may still be loading)."""
    return Status(status="ok")


@router.head("/ready", include_in_schema=False)
@router.get(
    "/ready",
    response_model=Status,
    summary="The model is loaded",
    responses={503: {"model": ErrorResponse, "description": "Loading, or failed to load"}},
)
def ready(request: Request) -> Status:
    """200 once the model is loaded; 503 (with the reason) before that or if loading failed."""
    if request.app.state.follower.served is None:
        raise APIError(503, "model_not_ready", not_ready_message(request))
    return Status(status="ready", model_uri=request.app.state.settings.model_uri)
