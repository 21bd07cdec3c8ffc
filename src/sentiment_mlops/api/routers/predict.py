"""Predictions for one text or a batch, optionally explained."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from sentiment_mlops.api.batching import (
    BatcherClosedError,
    BatchFailedError,
    QueueFullError,
    QueueTimeoutError,
)
from sentiment_mlops.api.dependencies import (
    BatcherDep,
    MetricsDep,
    ModelDep,
    PredictionLogDep,
    SettingsDep,
    require_api_key,
)
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.api.prediction_log import PredictionLog
from sentiment_mlops.api.schemas import (
    BatchPrediction,
    BatchPredictRequest,
    ErrorResponse,
    Explanation,
    Prediction,
    PredictRequest,
)
from sentiment_mlops.api.settings import Settings
from sentiment_mlops.prediction import TextScores

PREDICTION_ID_HEADER = "X-Prediction-Id"

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Depends(require_api_key)])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Body is not valid JSON or not UTF-8"},
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key, or two of them"},
    408: {"model": ErrorResponse, "description": "The body took too long to arrive"},
    413: {"model": ErrorResponse, "description": "Body over the size limit"},
    415: {
        "model": ErrorResponse,
        "description": "Content-Type is not application/json (or is sent twice)",
    },
    422: {
        "model": ErrorResponse,
        "description": "Empty, non-string or too long text; batch too big",
    },
    500: {"model": ErrorResponse, "description": "The model failed to score the text"},
    503: {
        "model": ErrorResponse,
        "description": "The model is not loaded yet, the service is shutting down, or it is "
        "at a limit (too many requests, a full or slow queue: see Retry-After)",
    },
}
ExplainQuery = Annotated[
    bool, Query(description="Add the words / n-grams that pushed the prediction most.")
]


def _check_length(texts: list[str], settings: Settings) -> None:
    for index, text in enumerate(texts):
        if len(text) > settings.max_text_length:
            where = "text" if len(texts) == 1 else f"texts[{index}]"
            raise APIError(
                422,
                "text_too_long",
                f"{where} has {len(text)} characters; the limit is {settings.max_text_length}. "
                "Shorten it or split it.",
            )


def _prediction(  # noqa: PLR0913, PLR0917 - the text, its scores and what the answer needs
    text: str,
    scored: TextScores,
    prediction_id: str,
    explanation: Explanation | None,
    model: ServedModel,
    settings: Settings,
    metrics: ServiceMetrics,
) -> Prediction:
    threshold, _ = model.min_confidence(settings.min_confidence)
    uncertain = threshold is not None and scored.confidence < threshold
    metrics.predictions.labels(scored.label).inc()
    metrics.confidence.observe(scored.confidence)
    metrics.text_length.observe(len(text))
    if uncertain:
        metrics.uncertain.inc()
    return Prediction(
        label=scored.label,
        confidence=scored.confidence,
        scores=scored.scores,
        uncertain=uncertain,
        model_version=model.card.version,
        prediction_id=prediction_id,
        explanation=explanation,
    )


def _answers(  # noqa: PLR0913, PLR0917 - one parameter per dependency
    texts: list[str],
    explain: bool,
    model: ServedModel,
    settings: Settings,
    metrics: ServiceMetrics,
    log: PredictionLog,
) -> list[Prediction]:
    rows = model.predict(texts).rows()
    ids = log.record(texts, rows, model.card.version)
    answers = []
    for text, scored, prediction_id in zip(texts, rows, ids, strict=True):
        explanation = model.explain(text, scored.label, settings.explain_top_k) if explain else None
        answers.append(
            _prediction(text, scored, prediction_id, explanation, model, settings, metrics)
        )
    return answers


@router.post("", response_model=Prediction, responses=ERRORS, summary="Score one text")
async def predict(  # noqa: PLR0913, PLR0917 - one parameter per dependency
    body: PredictRequest,
    response: Response,
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    batcher: BatcherDep,
    log: PredictionLogDep,
    explain: ExplainQuery = False,
) -> Prediction:
    """Label, calibrated confidence and a score per class for one raw text.

    Concurrent requests are scored together: the text joins the batch the model scores next
    (see ``SENTIMENT_MICRO_BATCH_MAX_SIZE``). With ``explain`` it is scored and explained on
    its own, in the thread pool. The answer's ``prediction_id`` (also the ``X-Prediction-Id``
    header) is what ``POST /feedback`` takes.
    """
    _check_length([body.text], settings)
    if explain:
        answers = await run_in_threadpool(
            _answers, [body.text], explain, model, settings, metrics, log
        )
        response.headers[PREDICTION_ID_HEADER] = answers[0].prediction_id
        return answers[0]
    try:
        scored_by = await batcher.submit(body.text)
    except BatchFailedError as error:
        raise APIError(
            500,
            "prediction_failed",
            f"The model failed to score the batch of {error.batch_size} text(s) this one was "
            "in; the error has been logged. Retry; if it persists, report it.",
        ) from error
    except BatcherClosedError as error:
        raise APIError(
            503, "shutting_down", "The service is shutting down; retry shortly."
        ) from error
    except (QueueFullError, QueueTimeoutError) as error:
        raise APIError(
            503,
            "queue_full" if isinstance(error, QueueFullError) else "queue_timeout",
            f"The model is behind: {error}. Retry in {settings.retry_after_s} s.",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from error
    # The model that scored the batch, which a swap may have replaced since the request began.
    served = scored_by.model
    (prediction_id,) = log.record([body.text], [scored_by.scores], served.card.version)
    response.headers[PREDICTION_ID_HEADER] = prediction_id
    return _prediction(body.text, scored_by.scores, prediction_id, None, served, settings, metrics)


@router.post("/batch", response_model=BatchPrediction, responses=ERRORS, summary="Score texts")
def predict_batch(  # noqa: PLR0913, PLR0917 - one parameter per dependency
    body: BatchPredictRequest,
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    log: PredictionLogDep,
    explain: ExplainQuery = False,
) -> BatchPrediction:
    """One prediction per text, in the same order."""
    if len(body.texts) > settings.max_batch_size:
        raise APIError(
            422,
            "batch_too_large",
            f"The batch has {len(body.texts)} texts; the limit is {settings.max_batch_size}. "
            "Split it into smaller batches.",
        )
    _check_length(body.texts, settings)
    return BatchPrediction(predictions=_answers(body.texts, explain, model, settings, metrics, log))
