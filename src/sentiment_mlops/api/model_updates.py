"""The service follows a registry alias: a new champion is loaded, checked, warmed and swapped in.

With ``SENTIMENT_MODEL_URI=models:/<name>@<alias>`` the service asks the registry which version
the alias names every ``SENTIMENT_MODEL_POLL_S`` seconds (and on ``POST /admin/reload``). A new
version is loaded off the event loop and checked (it loads, its classes are the served model's,
it scores a canary set with probabilities that are finite and sum to one, and the registry
holds its test score); only then does it replace the served model, in one assignment, so a
request that already holds the old model finishes on it. A version that fails is not served
and not retried until the alias moves again (or an operator asks for a reload).

A pinned URI (``models:/<name>/<version>``, ``runs:/``, a local or ``s3://`` directory) names
one model forever: it is loaded once, the same way, and never polled.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime

import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import REGISTRY_URI_RE, ServedModel
from sentiment_mlops.api.schemas import ModelCheck
from sentiment_mlops.mlflow_registry import SCORE_TAG

logger = logging.getLogger(__name__)

# One short text of each class: a model that cannot score these is not served.
CANARY_TEXTS = (
    "Thank you, the crew was wonderful and the flight was on time!",
    "Worst airline ever: delayed three hours and they lost my bag.",
    "My flight to Boston is at 5pm tomorrow.",
)


class ModelCheckError(RuntimeError):
    """A loaded model that must not be served, and why."""


def check_model(candidate: ServedModel, served: ServedModel | None, has_test_score: bool) -> None:
    """Raise :class:`ModelCheckError` unless ``candidate`` may replace ``served``.

    Scoring the canary set also warms the candidate (first-call allocations, lazy imports).
    """
    classes = candidate.card.classes
    if served is not None and classes != served.card.classes:
        raise ModelCheckError(
            f"its classes {classes} differ from the served model's {served.card.classes}"
        )
    try:
        scores = candidate.predict(list(CANARY_TEXTS))
    except Exception as error:  # noqa: BLE001 - any failure to score disqualifies it
        raise ModelCheckError(f"it failed to score the canary texts: {error!r}") from error
    probabilities = np.asarray(scores.probabilities, dtype=float)
    if probabilities.shape != (len(CANARY_TEXTS), len(classes)):
        raise ModelCheckError(
            f"it gave probabilities of shape {probabilities.shape} for "
            f"{len(CANARY_TEXTS)} texts and {len(classes)} classes"
        )
    if not np.isfinite(probabilities).all() or not np.allclose(probabilities.sum(axis=1), 1.0):
        raise ModelCheckError("its canary probabilities are not finite or do not sum to 1")
    if not has_test_score:
        raise ModelCheckError(
            f"the registry holds no {SCORE_TAG} for it: it was not evaluated by a training run"
        )


class ModelFollower:
    """Loads the configured model, keeps it in step with its alias, and says how that went.

    ``served`` is the model requests score with: one attribute, replaced in one assignment.
    """

    def __init__(self, uri: str, metrics: ServiceMetrics) -> None:
        self.uri = uri
        self.metrics = metrics
        match = REGISTRY_URI_RE.match(uri)
        self.model_name = match["name"] if match else None
        self.alias = match["alias"] if match else None  # None: a pinned URI
        self.served: ServedModel | None = None
        self.loaded_at: datetime | None = None
        self.last_check: ModelCheck | None = None
        self.load_error: str | None = None  # why there is no model at all (for /ready)
        self._seen_version: str | None = None  # what the alias named at the last check
        self._lock = asyncio.Lock()

    @property
    def follows_alias(self) -> bool:
        """Whether the URI names an alias, which can move (and so is polled)."""
        return self.alias is not None

    def _alias_version(self) -> str:
        client = MlflowClient()
        return str(client.get_model_version_by_alias(self.model_name, self.alias).version)

    def _has_test_score(self, version: str | None) -> bool:
        if version is None or not self.follows_alias:
            return True  # a pinned model was chosen by hand; nothing to look up
        tags = MlflowClient().get_model_version(self.model_name, version).tags or {}
        return SCORE_TAG in tags

    def _load_and_check(self, version: str | None) -> ServedModel:
        """Load (the alias's ``version``, or the pinned URI) and check it; blocking."""
        uri = f"models:/{self.model_name}/{version}" if version is not None else self.uri
        candidate = ServedModel.load(uri)
        check_model(candidate, self.served, self._has_test_score(version))
        return candidate

    async def check(self, *, retry_failed: bool = False) -> ModelCheck:
        """Serve what the URI names now, if it is not served yet and passes its checks.

        A version that failed before is tried again only with ``retry_failed`` or once the
        alias has named another version in between.
        """
        async with self._lock:
            return await self._check(retry_failed)

    async def _check(self, retry_failed: bool) -> ModelCheck:
        version = None
        try:
            if self.follows_alias:
                version = await asyncio.to_thread(self._alias_version)
        except MlflowException as error:
            return self._failed(None, f"cannot resolve {self.uri}: {error.message}")
        except Exception as error:  # noqa: BLE001 - the registry is unreachable: say so, retry
            return self._failed(None, f"cannot resolve {self.uri}: {error!r}")
        served_version = self.served.card.version if self.served else None
        if self.served is not None and (not self.follows_alias or version == served_version):
            self._seen_version = version
            return self._record(version, "unchanged", f"version {served_version} is served")
        if version == self._seen_version and not retry_failed and self.last_check is not None:
            return self.last_check  # this version failed already; wait for the alias to move
        self._seen_version = version
        try:
            candidate = await asyncio.to_thread(self._load_and_check, version)
        except Exception as error:  # noqa: BLE001 - reported on /model, /ready and /metrics
            self.metrics.model_load_failures.labels(version or "pinned").inc()
            return self._failed(version, str(error))
        self._swap_in(candidate)
        return self._record(candidate.card.version, "loaded", "passed its checks and is served")

    def _swap_in(self, candidate: ServedModel) -> None:
        # The model is hundreds of thousands of long-lived objects: without freezing them,
        # every full garbage collection walks them all and stalls every request in flight
        # (~300 ms p99 at 32 concurrent requests, 37 ms with it). Collect first: what is
        # frozen is never collected (a replaced model is still freed by reference counting).
        gc.collect()
        gc.freeze()
        previous = self.served
        self.served, self.loaded_at, self.load_error = candidate, datetime.now(UTC), None
        self.metrics.model_ready.set(1)
        if previous is not None:  # set to 0, not removed: other workers' files keep theirs
            self.metrics.model_version.labels(previous.card.version or "pinned").set(0)
        self.metrics.model_version.labels(candidate.card.version or "pinned").set(1)
        if previous is not None:
            self.metrics.model_swaps.inc()
        logger.info(
            "Serving %s (version %s, run %s)",
            self.uri,
            candidate.card.version,
            candidate.card.run_id,
        )

    def _failed(self, version: str | None, reason: str) -> ModelCheck:
        if self.served is None:
            self.load_error = reason  # /ready says why there is no model
        logger.error("Not serving %s (version %s): %s", self.uri, version, reason)
        return self._record(version, "failed", reason)

    def _record(self, version: str | None, outcome: str, reason: str) -> ModelCheck:
        self.last_check = ModelCheck(
            checked_at=datetime.now(UTC), version=version, outcome=outcome, reason=reason
        )
        return self.last_check

    async def poll(self, interval_s: float) -> None:
        """Check every ``interval_s`` seconds until cancelled (only for an alias URI)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception:  # a poll must never end the loop; the next one tries again
                logger.exception("Checking %s failed", self.uri)
