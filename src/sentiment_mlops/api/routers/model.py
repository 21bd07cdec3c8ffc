"""The model card of the served model."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sentiment_mlops.api.dependencies import ModelDep, require_api_key
from sentiment_mlops.api.schemas import ErrorResponse, ModelCard

router = APIRouter(tags=["model"], dependencies=[Depends(require_api_key)])


@router.get(
    "/model",
    response_model=ModelCard,
    summary="Which model is served, trained on what, with which metrics",
    responses={401: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def model_card(model: ModelDep) -> ModelCard:
    """Registered name and version, run id, training source and data hash, git commit,
    classes and the run's metrics."""
    return model.card
