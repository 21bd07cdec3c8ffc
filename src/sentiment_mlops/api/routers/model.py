"""The model card of the served model."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sentiment_mlops.api.dependencies import FollowerDep, ModelDep, SettingsDep, require_api_key
from sentiment_mlops.api.schemas import ErrorResponse, ServedModelStatus

router = APIRouter(tags=["model"], dependencies=[Depends(require_api_key)])


@router.get(
    "/model",
    response_model=ServedModelStatus,
    summary="Which model is served, trained on what, with which metrics",
    responses={401: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def model_card(model: ModelDep, follower: FollowerDep, settings: SettingsDep) -> ServedModelStatus:
    """Registered name and version, run id, training source and data hash, git commit,
    classes and the run's metrics; the "uncertain" threshold in effect; when it was loaded,
    the alias the service follows and the outcome of the last check (a version that failed
    says why)."""
    polled = follower.follows_alias and settings.model_poll_s > 0
    min_confidence, min_confidence_from = model.min_confidence(settings.min_confidence)
    return ServedModelStatus(
        **model.card.model_dump(),
        loaded_at=follower.loaded_at,
        min_confidence=min_confidence,
        min_confidence_from=min_confidence_from,
        follows=follower.uri if follower.follows_alias else None,
        poll_interval_s=settings.model_poll_s if polled else None,
        last_check=follower.last_check,
    )
