"""Predictions for one text or a batch, optionally explained."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Query

from sentiment_mlops.api.dependencies import MetricsDep, ModelDep, SettingsDep, require_api_key
from sentiment_mlops.api.errors import APIError
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.api.schemas import (
    BatchPrediction,
    BatchPredictRequest,
    ErrorResponse,
    Prediction,
    PredictRequest,
)
from sentiment_mlops.api.settings import Settings

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Depends(require_api_key)])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Body is not valid JSON or not UTF-8"},
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key"},
    413: {"model": ErrorResponse, "description": "Body over the size limit"},
    415: {"model": ErrorResponse, "description": "Content-Type is not application/json"},
    422: {
        "model": ErrorResponse,
        "description": "Empty, non-string or too long text; batch too big",
    },
    503: {"model": ErrorResponse, "description": "The model is not loaded yet"},
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


def _answers(
    texts: list[str],
    explain: bool,
    model: ServedModel,
    settings: Settings,
    metrics: ServiceMetrics,
) -> list[Prediction]:
    frame: pd.DataFrame = model.predict(texts)
    classes = model.card.classes
    scores = frame[classes].to_numpy(dtype=float)
    answers = []
    for row, (label, confidence) in enumerate(
        zip(frame["label"], frame["confidence"], strict=True)
    ):
        uncertain = settings.min_confidence is not None and confidence < settings.min_confidence
        answers.append(
            Prediction(
                label=label,
                confidence=float(confidence),
                scores=dict(zip(classes, scores[row].tolist(), strict=True)),
                uncertain=uncertain,
                model_version=model.card.version,
                explanation=model.explain(texts[row], label, settings.explain_top_k)
                if explain
                else None,
            )
        )
        metrics.predictions.labels(label).inc()
        if uncertain:
            metrics.uncertain.inc()
    return answers


@router.post("", response_model=Prediction, responses=ERRORS, summary="Score one text")
async def predict(
    body: PredictRequest,
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    explain: ExplainQuery = False,
) -> Prediction:
    """Label, calibrated confidence and a score per class for one raw text.

    Runs on the event loop: one text takes about a millisecond, less than a hop to the
    thread pool and back. Batches (up to a second) go to the thread pool instead.
    """
    _check_length([body.text], settings)
    return _answers([body.text], explain, model, settings, metrics)[0]


@router.post("/batch", response_model=BatchPrediction, responses=ERRORS, summary="Score texts")
def predict_batch(
    body: BatchPredictRequest,
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
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
    return BatchPrediction(predictions=_answers(body.texts, explain, model, settings, metrics))
