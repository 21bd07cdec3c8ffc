"""Service settings, read from ``SENTIMENT_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentiment_mlops.mlflow_registry import CHAMPION_MODEL_URI


class Settings(BaseSettings):
    """Everything the service can be told; each field is ``SENTIMENT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", protected_namespaces=())

    model_uri: str = Field(
        CHAMPION_MODEL_URI,
        description="MLflow model URI (models:/name@alias, models:/name/version, runs:/...) "
        "or a local model directory.",
    )
    model_poll_s: float = Field(
        30.0,
        ge=0.0,
        description="With a registry alias URI (models:/name@alias), seconds between checks of "
        "the version it names; a new one is loaded, checked and swapped in. 0: no polling "
        "(POST /admin/reload still checks).",
    )
    api_key: SecretStr | None = Field(
        None,
        description="When set, /predict and /model need this value in X-API-Key. "
        "POST /admin/reload always needs it.",
    )
    max_text_length: PositiveInt = Field(5_000, description="Longest accepted text, characters.")
    max_batch_size: PositiveInt = Field(1_000, description="Most texts in one /predict/batch.")
    max_body_bytes: PositiveInt = Field(
        6_000_000, description="Largest accepted request body (a full batch of long texts fits)."
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description='Below this confidence a prediction says "uncertain": true. Unset: the '
        "threshold the served model recorded on its validation split (see /model).",
    )
    explain_top_k: PositiveInt = Field(5, description="Features listed per explanation side.")
    micro_batch_max_size: PositiveInt = Field(
        64,
        description="Most concurrent single-text /predict requests scored together in one "
        "model call (1: no batching).",
    )
    micro_batch_max_wait_ms: float = Field(
        0.0,
        ge=0.0,
        le=1_000.0,
        description="How long a /predict request waits for others to join its batch; "
        "0: none (it takes what is queued when the model is free, so a lone request "
        "waits for nothing).",
    )
    access_log: bool = Field(False, description="Log every request (off: no per-request noise).")

    # What the service saw (docs/monitoring.md): read by the monitoring pipeline.
    prediction_log_dir: str = Field(
        "data/01_raw/serving/predictions",
        description="Where the prediction log is written: a local folder or s3://bucket/prefix "
        "(Parquet files partitioned by date and hour).",
    )
    prediction_log_sample: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of predictions logged; 0 turns the log off.",
    )
    log_text: bool = Field(
        True,
        description="Log each text; off: only its length and sha256 (no input-token drift, and "
        "feedback cannot become training data).",
    )
    prediction_log_buffer: PositiveInt = Field(
        10_000,
        description="Predictions held in memory between writes; past it records are dropped "
        "(counted in sentiment_prediction_log_dropped_total), never a request slowed.",
    )
    prediction_log_flush_s: float = Field(
        5.0, gt=0.0, description="Seconds between writes of the prediction log."
    )
    feedback_dir: str = Field(
        "data/01_raw/serving/feedback",
        description="Where POST /feedback stores the correct labels (local folder or s3://).",
    )

    # Bounds: past each one a request gets a clear error (and Retry-After where waiting helps),
    # never a hang. The connection-level ones are enforced by `sentiment-mlops serve`.
    max_in_flight: PositiveInt = Field(
        256,
        description="Requests handled at once; past it a request gets 503 with Retry-After.",
    )
    micro_batch_max_queue: PositiveInt = Field(
        1_024,
        description="Single-text /predict requests waiting to be scored; past it 503 with "
        "Retry-After.",
    )
    queue_timeout_s: float = Field(
        10.0,
        gt=0.0,
        description="Longest a queued /predict text waits for the model; then 503 with "
        "Retry-After.",
    )
    body_timeout_s: float = Field(
        10.0, gt=0.0, description="Longest a client may take to send its request body (408)."
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0.0,
        description="Longest a client may take to send its request line and headers (408).",
    )
    max_header_bytes: PositiveInt = Field(
        16_384, description="Largest request line plus headers, bytes (414 / 431)."
    )
    max_headers: PositiveInt = Field(100, description="Most request headers (431).")
    keep_alive_s: float = Field(
        5.0, gt=0.0, description="An idle keep-alive connection is closed after this long."
    )
    max_connections: PositiveInt = Field(
        1_000,
        description="Open connections plus requests in progress before the server itself "
        "answers 503 (a backstop above max_in_flight).",
    )
    retry_after_s: PositiveInt = Field(
        1, description="The Retry-After of a 503 for a full queue or too many requests."
    )
    model_load_retry_max_s: float = Field(
        60.0,
        gt=0.0,
        description="While the first model load fails (registry or store down), retries "
        "back off from 1 s up to this many seconds.",
    )
