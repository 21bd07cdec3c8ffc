"""The FastAPI app: ``uvicorn sentiment_mlops.api.app:app``.

The model is loaded in the background when the app starts: ``/health`` answers at once,
``/ready`` says 503 until the model is there (or why it failed to load). With a registry alias
URI the service then follows the alias (:mod:`sentiment_mlops.api.model_updates`). Swagger UI
(``/docs``) and ReDoc (``/redoc``) are served from files shipped with ``fastapi-offline``,
not from a CDN, so they work where the service has no internet access.

Single-text ``/predict`` requests go through a :class:`~sentiment_mlops.api.batching.MicroBatcher`
that the lifespan starts and stops: requests that arrive while the model is busy are scored
together in one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from sentiment_mlops import __version__
from sentiment_mlops.api.batching import MicroBatcher
from sentiment_mlops.api.errors import install_error_handlers
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.middleware import GuardAndMeasure
from sentiment_mlops.api.model import ScoredBy
from sentiment_mlops.api.model_updates import ModelFollower
from sentiment_mlops.api.prediction_log import FeedbackStore, LogCounters, PredictionLog
from sentiment_mlops.api.routers import admin, feedback, health, metrics, model, predict
from sentiment_mlops.api.settings import Settings

logger = logging.getLogger(__name__)


def quiet_access_log(settings: Settings) -> None:
    """Silence uvicorn's one-line-per-request log unless SENTIMENT_ACCESS_LOG is set."""
    logging.getLogger("uvicorn.access").disabled = not settings.access_log


async def follow_model(app: FastAPI) -> None:
    """Load the model off the event loop, retrying with backoff until one is served (the
    registry or the store may be down at boot: /ready says why meanwhile), then, for an alias
    URI, poll it for new versions."""
    follower: ModelFollower = app.state.follower
    settings: Settings = app.state.settings
    delay = 1.0
    while True:
        try:
            await follower.check(retry_failed=True)
        finally:
            # Importing Kedro while loading reconfigures logging, which re-enables every logger.
            quiet_access_log(settings)
        if follower.served is not None:
            break
        logger.warning("No model to serve yet; trying again in %g s", delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, settings.model_load_retry_max_s)
    interval = settings.model_poll_s
    if follower.follows_alias and interval > 0:
        await follower.poll(interval)


def start_batcher(app: FastAPI) -> MicroBatcher[str, ScoredBy]:
    """The /predict micro-batcher, scoring with the app's model (the route checks it is loaded
    before it queues a text)."""
    settings = app.state.settings

    def score(texts: list[str]) -> list[ScoredBy]:
        model = app.state.follower.served  # one model per batch, whatever a swap does
        return [ScoredBy(model, row) for row in model.predict(texts).rows()]

    batcher = MicroBatcher(
        score,
        max_size=settings.micro_batch_max_size,
        max_wait_s=settings.micro_batch_max_wait_ms / 1000,
        max_queue=settings.micro_batch_max_queue,
        queue_timeout_s=settings.queue_timeout_s,
        observe_batch_size=app.state.metrics.batch_size.observe,
    )
    batcher.start()
    return batcher


def prediction_log(settings: Settings, metrics: ServiceMetrics) -> PredictionLog:
    """The log of what the service predicts, as the settings describe it."""
    return PredictionLog(
        settings.prediction_log_dir,
        counters=LogCounters(
            written=metrics.log_written.inc,
            dropped=metrics.log_dropped.inc,
            write_failures=metrics.log_write_failures.inc,
        ),
        sample_rate=settings.prediction_log_sample,
        log_text=settings.log_text,
        max_buffer=settings.prediction_log_buffer,
        flush_interval_s=settings.prediction_log_flush_s,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the /predict batcher, the prediction log's writer and loading (then following)
    the model; keep uvicorn's per-request access log quiet unless asked. On shutdown,
    requests already queued are still answered, then the log is written out."""
    quiet_access_log(app.state.settings)
    app.state.prediction_log.start()
    app.state.batcher = start_batcher(app)
    following = asyncio.create_task(follow_model(app))
    try:
        yield
    finally:
        following.cancel()
        await app.state.batcher.stop()
        await asyncio.to_thread(app.state.prediction_log.stop)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own settings, metrics and (not yet loaded) model."""
    settings = settings or Settings()
    app = FastAPIOffline(
        title="Sentiment API",
        version=__version__,
        description="Negative / neutral / positive, with a calibrated confidence, a score per "
        "class and, on request, the words that decided it.",
        lifespan=lifespan,
        # No 307 to the path without its trailing slash: the redirect is built from the Host
        # header, and it answered before the key was checked. A wrong path is a 404.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.metrics = ServiceMetrics()
    # Holds the served model (``served``), which requests score with and a swap replaces.
    app.state.follower = ModelFollower(settings.model_uri, app.state.metrics)
    app.state.batcher = None  # started by the lifespan
    app.state.prediction_log = prediction_log(settings, app.state.metrics)
    app.state.feedback_store = FeedbackStore(settings.feedback_dir)
    routers = (health, predict, feedback, model, admin, metrics)
    for router in (module.router for module in routers):
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(GuardAndMeasure, metrics=app.state.metrics, settings=settings)
    return app


app = create_app()
