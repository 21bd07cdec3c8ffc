"""What the service saw: a sampled log of its predictions, and the feedback users send on them.

Writing never slows or fails a request: :meth:`PredictionLog.record` appends a tuple to an
in-memory buffer (a full buffer drops the record and counts the drop on ``/metrics``), and a
background thread writes the buffer every few seconds as Parquet files of a Hive-partitioned
folder, local or ``s3://`` (fsspec)::

    <log_dir>/date=2026-12-06/hour=21/part-<first id>-<last id>-<pid>.parquet

one file per flush, hour and worker process, which the ``monitoring`` pipeline reads as a
Kedro ``PartitionedDataset``. A prediction id is 24 hex digits, the first 12 the time in
milliseconds: ids sort by time, and an id names the hour partition (and, through the file
names, the file) that holds its record, so feedback for a prediction another worker logged
is found without reading the whole log.

Feedback (``POST /feedback``) is rarer and is the training data of tomorrow: each one is
written at once, as its own file in ``<feedback_dir>``, before the request is answered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from sentiment_mlops.prediction import TextScores

logger = logging.getLogger(__name__)

PREDICTION_ID_LENGTH = 24
_TIME_DIGITS = 12
_PART_PREFIX = "part-"
_PREDICTION_ID_RE = re.compile(rf"[0-9a-f]{{{PREDICTION_ID_LENGTH}}}")


def new_prediction_id(now_ms: int | None = None) -> str:
    """12 hex digits of Unix time in milliseconds, then 12 random ones."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return f"{millis:0{_TIME_DIGITS}x}{secrets.token_hex(6)}"


def is_prediction_id(value: str) -> bool:
    """Whether ``value`` has the shape of a prediction id (24 lowercase hex digits)."""
    return _PREDICTION_ID_RE.fullmatch(value) is not None


def prediction_time(prediction_id: str) -> datetime:
    """When the prediction was made, from its id."""
    return datetime.fromtimestamp(int(prediction_id[:_TIME_DIGITS], 16) / 1000, tz=UTC)


def hour_partition(moment: datetime) -> str:
    """``date=YYYY-MM-DD/hour=HH`` of a UTC time."""
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}"


class LoggedPrediction(NamedTuple):
    """A prediction the service made, as the feedback route needs it."""

    prediction_id: str
    label: str
    model_version: str | None


class _Pending(NamedTuple):
    prediction_id: str
    millis: int
    model_version: str | None
    scores: TextScores
    text: str


def _write_parquet(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` to ``path`` so that a reader never sees half a file: locally under a
    temporary name, then renamed; an S3 object appears whole when its upload completes.
    Credentials come from the environment (the instance role on AWS)."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    fs.makedirs(fs_path.rsplit("/", 1)[0], exist_ok=True)
    local = isinstance(fs, LocalFileSystem)
    target = f"{fs_path}.tmp" if local else fs_path
    with fs.open(target, "wb") as file:
        frame.to_parquet(file, index=False)
    if local:
        fs.mv(target, fs_path)


@dataclass
class LogCounters:
    """Where the log reports what it did (prometheus counters' ``inc``)."""

    written: Callable[[float], None]
    dropped: Callable[[float], None]
    write_failures: Callable[[float], None]


class PredictionLog:
    """A sampled, buffered, background-flushed log of predictions (see the module docstring).

    ``sample_rate`` is the share of predictions logged (0: none, and no thread is started);
    with ``log_text`` off a record keeps the text's length and sha256 instead of the text.
    """

    def __init__(  # noqa: PLR0913 - where, what, how much, how often, what to count
        self,
        directory: str,
        *,
        counters: LogCounters,
        sample_rate: float = 1.0,
        log_text: bool = True,
        max_buffer: int = 10_000,
        flush_interval_s: float = 5.0,
        recent_ids: int = 100_000,
    ):
        self.directory = directory.rstrip("/")
        self.sample_rate = sample_rate
        self.log_text = log_text
        self.max_buffer = max_buffer
        self.flush_interval_s = flush_interval_s
        self._counters = counters
        self._buffer: list[_Pending] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time: the thread or stop()
        self._recent: OrderedDict[str, LoggedPrediction] = OrderedDict()
        self._recent_max = recent_ids
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether any prediction is logged."""
        return self.sample_rate > 0

    def start(self) -> None:
        """Start the background writer (nothing to do when logging is off)."""
        if not self.enabled or self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what is buffered and stop the writer."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout_s)
        self._thread = None
        self.flush()

    def record(
        self, texts: Sequence[str], scored: Sequence[TextScores], model_version: str | None
    ) -> list[str]:
        """A new prediction id for each text; the sampled ones are queued for the log.

        Never raises and never waits for I/O: a full buffer drops the record (counted).
        """
        millis = time.time_ns() // 1_000_000
        ids = [new_prediction_id(millis) for _ in texts]
        if not self.enabled:
            return ids
        sampled = [
            _Pending(prediction_id, millis, model_version, scores, text)
            for prediction_id, scores, text in zip(ids, scored, texts, strict=True)
            if self.sample_rate >= 1.0 or random.random() < self.sample_rate  # noqa: S311
        ]
        dropped = 0
        with self._lock:
            room = self.max_buffer - len(self._buffer)
            if len(sampled) > room:
                dropped = len(sampled) - max(room, 0)
                sampled = sampled[: max(room, 0)]
            self._buffer.extend(sampled)
            for pending in sampled:
                self._remember(pending)
            full = len(self._buffer) >= self.max_buffer // 2
        if dropped:
            self._counters.dropped(dropped)
        if full:
            self._wake.set()  # do not wait for the interval with a buffer half full
        return ids

    def _remember(self, pending: _Pending) -> None:
        self._recent[pending.prediction_id] = LoggedPrediction(
            pending.prediction_id, pending.scores.label, pending.model_version
        )
        if len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write the buffered records now; returns how many were written. A failed write is
        logged and counted, and its records go back to the buffer while there is room."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffer = self._buffer, []
            if not pending:
                return 0
            written = 0
            for partition, records in self._by_hour(pending).items():
                try:
                    _write_parquet(
                        self._frame(records),
                        self._part_path(partition, records),
                    )
                except Exception as error:  # the log must never take the service down
                    logger.warning(
                        "Could not write %d logged predictions to %s: %s",
                        len(records),
                        self.directory,
                        error,
                    )
                    self._counters.write_failures(1)
                    self._requeue(records)
                    continue
                written += len(records)
            if written:
                self._counters.written(written)
            return written

    def _requeue(self, records: list[_Pending]) -> None:
        with self._lock:
            room = max(self.max_buffer - len(self._buffer), 0)
            self._buffer[:0] = records[:room]
        if len(records) > room:
            self._counters.dropped(len(records) - room)

    @staticmethod
    def _by_hour(pending: list[_Pending]) -> dict[str, list[_Pending]]:
        groups: dict[str, list[_Pending]] = {}
        for record in pending:
            moment = datetime.fromtimestamp(record.millis / 1000, tz=UTC)
            groups.setdefault(hour_partition(moment), []).append(record)
        return groups

    def _part_path(self, partition: str, records: list[_Pending]) -> str:
        ids = [record.prediction_id for record in records]
        return (
            f"{self.directory}/{partition}/"
            f"{_PART_PREFIX}{min(ids)}-{max(ids)}-{os.getpid()}.parquet"
        )

    def _frame(self, records: list[_Pending]) -> pd.DataFrame:
        texts = [record.text for record in records]
        return pd.DataFrame(
            {
                "prediction_id": [record.prediction_id for record in records],
                "predicted_at": pd.to_datetime(
                    [record.millis for record in records], unit="ms", utc=True
                ),
                "model_version": [record.model_version for record in records],
                "label": [record.scores.label for record in records],
                "confidence": [record.scores.confidence for record in records],
                "scores": [json.dumps(record.scores.scores) for record in records],
                "text": texts if self.log_text else [None] * len(texts),
                "text_length": [len(text) for text in texts],
                "text_sha256": [hashlib.sha256(text.encode()).hexdigest() for text in texts],
            }
        )

    def find(self, prediction_id: str) -> LoggedPrediction | None:
        """The logged prediction with this id: from memory when this process made it, else
        from the file whose id range holds it (another worker's, or before a restart)."""
        with self._lock:
            recent = self._recent.get(prediction_id)
        if recent is not None:
            return recent
        fs, root = fsspec.core.url_to_fs(self.directory)
        folder = f"{root}/{hour_partition(prediction_time(prediction_id))}"
        try:
            names = fs.ls(folder, detail=False)
        except FileNotFoundError:
            return None
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if not (base.startswith(_PART_PREFIX) and base.endswith(".parquet")):
                continue
            first, last = base[len(_PART_PREFIX) :].split("-")[:2]
            if first <= prediction_id <= last:
                with fs.open(name, "rb") as file:
                    frame = pd.read_parquet(
                        file, columns=["prediction_id", "label", "model_version"]
                    )
                match = frame.loc[frame["prediction_id"] == prediction_id]
                if len(match):
                    row = match.iloc[0]
                    return LoggedPrediction(prediction_id, row["label"], row["model_version"])
        return None


@dataclass(frozen=True)
class FeedbackStore:
    """Writes each feedback label as its own Parquet file, partitioned by the hour received."""

    directory: str

    def save(self, prediction: LoggedPrediction, label: str, received_at: datetime) -> None:
        """Store the correct ``label`` for ``prediction`` (raises on failure: the caller
        must not say it was stored)."""
        frame = pd.DataFrame(
            {
                "prediction_id": [prediction.prediction_id],
                "label": [label],
                "predicted_label": [prediction.label],
                "model_version": [prediction.model_version],
                "received_at": pd.to_datetime([received_at], utc=True),
            }
        )
        path = (
            f"{self.directory.rstrip('/')}/{hour_partition(received_at)}/"
            f"feedback-{prediction.prediction_id}-{secrets.token_hex(4)}.parquet"
        )
        _write_parquet(frame, path)
