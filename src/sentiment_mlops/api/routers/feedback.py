"""Feedback: the correct label of a prediction, stored beside the prediction log."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, status
from starlette.concurrency import run_in_threadpool

from sentiment_mlops.api.dependencies import (
    FeedbackStoreDep,
    MetricsDep,
    ModelDep,
    PredictionLogDep,
    require_admin_key,
)
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.prediction_log import PREDICTION_ID_LENGTH, is_prediction_id
from sentiment_mlops.api.schemas import ErrorResponse, FeedbackReceipt, FeedbackRequest

# Feedback becomes training data: only holders of the service's key may send it.
router = APIRouter(prefix="/feedback", tags=["feedback"], dependencies=[Depends(require_admin_key)])

ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key"},
    403: {"model": ErrorResponse, "description": "SENTIMENT_API_KEY is not set"},
    404: {"model": ErrorResponse, "description": "No logged prediction has this id"},
    422: {"model": ErrorResponse, "description": "Malformed id, or a label the model lacks"},
    503: {"model": ErrorResponse, "description": "The feedback could not be stored; retry"},
}


@router.post(
    "",
    response_model=FeedbackReceipt,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    summary="Say what the right label of a prediction was",
)
async def send_feedback(
    body: FeedbackRequest,
    model: ModelDep,
    log: PredictionLogDep,
    store: FeedbackStoreDep,
    metrics: MetricsDep,
) -> FeedbackReceipt:
    """Stores the correct ``label`` for the prediction ``prediction_id`` names; it is written
    before the answer, so a 201 means it is kept. Sending feedback for the same prediction
    again replaces it (the monitoring pipeline keeps the latest)."""
    if not is_prediction_id(body.prediction_id):
        raise APIError(
            422,
            "invalid_prediction_id",
            f"prediction_id must be the {PREDICTION_ID_LENGTH} lowercase hex digits a "
            "prediction's response carries (its prediction_id field or X-Prediction-Id header).",
        )
    classes = model.card.classes
    if body.label not in classes:
        raise APIError(
            422,
            "unknown_label",
            f"label {body.label!r} is not a class of the model; use one of {classes}.",
        )
    prediction = await run_in_threadpool(log.find, body.prediction_id)
    if prediction is None:
        raise APIError(
            404,
            "prediction_not_found",
            f"No logged prediction has id {body.prediction_id}: it was not sampled "
            "(SENTIMENT_PREDICTION_LOG_SAMPLE), its log was removed, or another worker made it "
            "less than a flush interval ago (retry in a few seconds).",
        )
    received_at = datetime.now(tz=UTC)
    try:
        await run_in_threadpool(store.save, prediction, body.label, received_at)
    except Exception as error:
        raise APIError(
            503,
            "feedback_not_stored",
            f"The feedback could not be stored ({type(error).__name__}); retry shortly.",
        ) from error
    agrees = body.label == prediction.label
    metrics.feedback.labels(str(agrees).lower()).inc()
    return FeedbackReceipt(
        prediction_id=prediction.prediction_id,
        label=body.label,
        predicted_label=prediction.label,
        agrees=agrees,
        model_version=prediction.model_version,
        received_at=received_at,
    )
