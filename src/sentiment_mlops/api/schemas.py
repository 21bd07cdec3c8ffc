"""Request and response bodies of the service (they are also the OpenAPI docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

EXAMPLE_TEXT = "@united thanks for the quick rebooking, great service!"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be empty or whitespace only")
    return text


class PredictRequest(BaseModel):
    """One raw text to score."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"text": EXAMPLE_TEXT}]})

    text: StrictStr = Field(description="Raw text (a tweet, a review...), as a user wrote it.")

    _check_text = field_validator("text")(_not_blank)


class BatchPredictRequest(BaseModel):
    """Several raw texts to score; answers come back in the same order."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"texts": [EXAMPLE_TEXT, "my bag is lost again"]}]}
    )

    texts: list[StrictStr] = Field(min_length=1, description="Raw texts, at least one.")

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, texts: list[str]) -> list[str]:
        for index, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"texts[{index}] must not be empty or whitespace only")
        return texts


class FeatureWeight(BaseModel):
    """One vectorizer feature (a word, an n-gram, a character n-gram) and its contribution."""

    feature: str = Field(description='Feature name, e.g. "word__great" or "char__ lat".')
    weight: float = Field(description="coefficient x feature value for the predicted class.")


class Explanation(BaseModel):
    """Why the model chose the label (linear models only)."""

    available: bool
    method: str | None = Field(None, description="How weights were computed.")
    reason: str | None = Field(None, description="Why no explanation is available.")
    towards: list[FeatureWeight] = Field(default_factory=list)
    against: list[FeatureWeight] = Field(default_factory=list)


class Prediction(BaseModel):
    """The model's answer for one text."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "positive",
                    "confidence": 0.91,
                    "scores": {"negative": 0.04, "neutral": 0.05, "positive": 0.91},
                    "uncertain": False,
                    "model_version": "3",
                    "prediction_id": "0192f3a1b2c3d4e5f6a7b8c9",
                    "explanation": None,
                }
            ]
        },
        protected_namespaces=(),
    )

    label: str = Field(description="The most probable class.")
    confidence: float = Field(description="Calibrated probability of the label.")
    scores: dict[str, float] = Field(description="Calibrated probability of every class.")
    uncertain: bool = Field(
        description="True when confidence is below the min_confidence of /model: the one the "
        "model recorded on its validation split, unless SENTIMENT_MIN_CONFIDENCE overrides it."
    )
    model_version: str | None = Field(description="Registered version of the served model.")
    prediction_id: str = Field(
        description="Names this prediction in POST /feedback (also in the X-Prediction-Id "
        "header of /predict)."
    )
    explanation: Explanation | None = Field(None, description="Only with ?explain=true.")


class BatchPrediction(BaseModel):
    """Answers for a batch, in the order of the texts."""

    predictions: list[Prediction]


class FeedbackRequest(BaseModel):
    """The correct label of a prediction the service made."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prediction_id": "0192f3a1b2c3d4e5f6a7b8c9", "label": "negative"}]
        }
    )

    prediction_id: StrictStr = Field(description="From the prediction's response.")
    label: StrictStr = Field(description="The class the text really belongs to.")


class FeedbackReceipt(BaseModel):
    """The feedback as stored."""

    model_config = ConfigDict(protected_namespaces=())

    prediction_id: str
    label: str = Field(description="The correct class, as sent.")
    predicted_label: str = Field(description="What the model said.")
    agrees: bool = Field(description="Whether the model was right.")
    model_version: str | None = Field(description="The version that made the prediction.")
    received_at: datetime


class Status(BaseModel):
    """Liveness / readiness."""

    status: str
    model_uri: str | None = None


class ModelCard(BaseModel):
    """Which model is served, and which data, code and metrics produced it."""

    model_config = ConfigDict(protected_namespaces=())

    model_uri: str
    registered_name: str | None
    version: str | None
    aliases: list[str]
    run_id: str | None
    source: str | None = Field(description="The training data source (kedro `source` param).")
    train_data_sha256: str | None
    git_commit: str | None
    classes: list[str]
    calibrated: bool
    explainable: bool
    uncertain_below: float | None = Field(
        description='The confidence below which this model\'s answers say "uncertain", chosen '
        "on its validation split when it was trained (null: the model recorded none)."
    )
    metrics: dict[str, float]


class ModelCheck(BaseModel):
    """The outcome of the last look at the model URI (at start, by the poll or by a reload)."""

    checked_at: datetime
    version: str | None = Field(description="The version the URI named (null: a pinned URI).")
    outcome: Literal["loaded", "unchanged", "failed"]
    reason: str


class ServedModelStatus(ModelCard):
    """The model card, and how the service keeps it current."""

    loaded_at: datetime
    min_confidence: float | None = Field(
        description='The confidence below which answers say "uncertain" now: the '
        "SENTIMENT_MIN_CONFIDENCE setting if set, else the model's uncertain_below."
    )
    min_confidence_from: Literal["setting", "model", "none"]
    follows: str | None = Field(
        description="The registry alias URI the service polls for a new version (null: pinned)."
    )
    poll_interval_s: float | None = Field(description="Seconds between polls (null: no polling).")
    last_check: ModelCheck | None


class ErrorDetail(BaseModel):
    """What went wrong and what to do."""

    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="Human-readable explanation.")


class ErrorResponse(BaseModel):
    """Every error the service returns has this shape (never a traceback)."""

    error: ErrorDetail
