"""The FastAPI app: ``uvicorn sentiment_mlops.api.app:app``.

The model is loaded once, in the background, when the app starts: ``/health`` answers at
once, ``/ready`` says 503 until the model is there (or why it failed to load). Swagger UI
(``/docs``) and ReDoc (``/redoc``) are served from files shipped with ``fastapi-offline``,
not from a CDN, so they work where the service has no internet access.

Single-text ``/predict`` requests go through a :class:`~sentiment_mlops.api.batching.MicroBatcher`
that the lifespan starts and stops: requests that arrive while the model is busy are scored
together in one call.
"""

from __future__ import annotations

import asyncio
import gc
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
from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.api.routers import health, metrics, model, predict
from sentiment_mlops.api.settings import Settings
from sentiment_mlops.prediction import TextScores

logger = logging.getLogger(__name__)


def quiet_access_log(settings: Settings) -> None:
    """Silence uvicorn's one-line-per-request log unless SENTIMENT_ACCESS_LOG is set."""
    logging.getLogger("uvicorn.access").disabled = not settings.access_log


async def load_model(app: FastAPI) -> None:
    """Load the model off the event loop; record the model or the reason it failed."""
    uri = app.state.settings.model_uri
    try:
        app.state.model = await asyncio.to_thread(ServedModel.load, uri)
    except Exception as error:  # reported by /ready; the process stays up to say so
        app.state.load_error = str(error)
        logger.error("Cannot serve %s: %s", uri, error)
        return
    finally:
        # Importing Kedro while loading reconfigures logging, which re-enables every logger.
        quiet_access_log(app.state.settings)
    # The model is hundreds of thousands of long-lived objects: without this, every full
    # garbage collection walks them all and stalls every request in flight (~300 ms p99 at
    # 32 concurrent requests, 37 ms with it). Collect first: what is frozen is never freed.
    gc.collect()
    gc.freeze()
    app.state.metrics.model_ready.set(1)
    card = app.state.model.card
    logger.info("Serving %s (version %s, run %s)", uri, card.version, card.run_id)


def start_batcher(app: FastAPI) -> MicroBatcher[str, TextScores]:
    """The /predict micro-batcher, scoring with the app's model (the route checks it is loaded
    before it queues a text)."""
    settings = app.state.settings

    def score(texts: list[str]) -> list[TextScores]:
        return app.state.model.predict(texts).rows()

    batcher = MicroBatcher(
        score,
        max_size=settings.micro_batch_max_size,
        max_wait_s=settings.micro_batch_max_wait_ms / 1000,
        observe_batch_size=app.state.metrics.batch_size.observe,
    )
    batcher.start()
    return batcher


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the model and the /predict batcher; keep uvicorn's per-request access log
    quiet unless asked. On shutdown, requests already queued are still answered."""
    quiet_access_log(app.state.settings)
    app.state.batcher = start_batcher(app)
    loading = asyncio.create_task(load_model(app))
    try:
        yield
    finally:
        loading.cancel()
        await app.state.batcher.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own settings, metrics and (not yet loaded) model."""
    settings = settings or Settings()
    app = FastAPIOffline(
        title="Sentiment API",
        version=__version__,
        description="Negative / neutral / positive, with a calibrated confidence, a score per "
        "class and, on request, the words that decided it.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = ServiceMetrics()
    app.state.model = None
    app.state.load_error = None
    app.state.batcher = None  # started by the lifespan
    for router in (health.router, predict.router, model.router, metrics.router):
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(
        GuardAndMeasure, metrics=app.state.metrics, max_body_bytes=settings.max_body_bytes
    )
    return app


app = create_app()
