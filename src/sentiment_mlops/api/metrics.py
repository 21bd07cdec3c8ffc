"""Prometheus metrics of the service, in a registry of its own (one per app).

With several worker processes (``sentiment-mlops serve --workers N``) each worker writes its
values to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and
``/metrics`` adds them up, whichever worker answers the scrape: counters and histograms are
summed, ``sentiment_model_ready`` is the lowest of the live workers' (1: all are ready) and
``sentiment_model_version`` the highest (1 for every version some worker serves). The live
gauges of a worker that died (uvicorn starts another in its place) are removed at the next
scrape, so a dead worker never holds a version or a readiness the live ones no longer have.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """Whether metrics are shared between worker processes (prometheus-client reads the same
    variable when it is imported)."""
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


# prometheus-client's files of the gauges that count live processes only.
_LIVE_GAUGE_FILE_RE = re.compile(r"^gauge_live\w+?_(?P<pid>\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def remove_dead_workers_gauges(directory: str) -> list[int]:
    """Remove the live gauges of the processes that wrote to ``directory`` and are gone (what
    prometheus-client's ``mark_process_dead`` is for); returns their pids. Counters and
    histograms stay: what a dead worker counted still happened."""
    dead = set()
    for path in Path(directory).iterdir():
        match = _LIVE_GAUGE_FILE_RE.match(path.name)
        if match and not _alive(int(match["pid"])):
            dead.add(int(match["pid"]))
    for pid in dead:
        with contextlib.suppress(FileNotFoundError):  # another worker's scrape removed them
            mark_process_dead(pid, directory)
    return sorted(dead)


# Sub-millisecond to seconds: a single text scores in ~1 ms, a full batch in ~1 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# Texts per model call of the /predict micro-batcher: 1 when requests come one at a time.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# A 3-class top-label confidence is at least 1/3; the low end is where "uncertain" lives.
CONFIDENCE_BUCKETS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
# Characters: a tweet is at most 280, a review a few thousand.
TEXT_LENGTH_BUCKETS = (10, 20, 40, 80, 140, 280, 500, 1_000, 2_000, 5_000)


@dataclass
class ServiceMetrics:
    """Request counts and latencies per route, predictions per class, their confidence and
    text length, /predict batch sizes, model readiness, the served version, swaps and failed
    versions, the prediction log's writes and drops, and feedback."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "sentiment_http_requests",
            "HTTP requests by route, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "sentiment_predictions",
            "Texts scored, by predicted class.",
            ["label"],
            registry=self.registry,
        )
        self.uncertain = Counter(
            "sentiment_uncertain_predictions",
            "Predictions below min_confidence.",
            registry=self.registry,
        )
        self.confidence = Histogram(
            "sentiment_prediction_confidence",
            "Confidence of each prediction (the probability of its label).",
            buckets=CONFIDENCE_BUCKETS,
            registry=self.registry,
        )
        self.text_length = Histogram(
            "sentiment_text_length_chars",
            "Length of each scored text, characters.",
            buckets=TEXT_LENGTH_BUCKETS,
            registry=self.registry,
        )
        self.log_written = Counter(
            "sentiment_prediction_log_records",
            "Predictions written to the prediction log.",
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "sentiment_prediction_log_dropped",
            "Predictions not logged because the log's buffer was full.",
            registry=self.registry,
        )
        self.log_write_failures = Counter(
            "sentiment_prediction_log_write_failures",
            "Failed writes of the prediction log (their records are retried while they fit).",
            registry=self.registry,
        )
        self.feedback = Counter(
            "sentiment_feedback",
            "Feedback labels received; agrees: the label is the one predicted.",
            ["agrees"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "sentiment_predict_batch_size",
            "Texts scored per model call by the /predict micro-batcher.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.model_ready = Gauge(
            "sentiment_model_ready",
            "1 once the model is loaded.",
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self.model_version = Gauge(
            "sentiment_model_version",
            "1 for the registered version served now ('pinned' for a fixed URI).",
            ["version"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.model_swaps = Counter(
            "sentiment_model_swaps",
            "New versions swapped in while serving (the alias moved).",
            registry=self.registry,
        )
        self.model_load_failures = Counter(
            "sentiment_model_load_failures",
            "Versions that failed to load or failed their checks, by version (not served).",
            ["version"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text exposition of every metric: this process's, or all workers' in
        multiprocess mode."""
        if not multiprocess_mode():
            return generate_latest(self.registry)
        remove_dead_workers_gauges(os.environ[MULTIPROCESS_DIR_VARIABLE])
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        try:
            return generate_latest(workers)
        except FileNotFoundError:  # a dead worker's file removed by another scrape meanwhile
            return generate_latest(workers)
