"""The prediction log on its own: sampling, what a record holds, partitions, drops, failures,
and finding a prediction again (in memory, or in another process's files)."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset

from sentiment_mlops.api.prediction_log import (
    LogCounters,
    PredictionLog,
    is_prediction_id,
    new_prediction_id,
    prediction_time,
)
from sentiment_mlops.prediction import TextScores

pytestmark = pytest.mark.unit

SCORES = TextScores("negative", 0.7, {"negative": 0.7, "neutral": 0.2, "positive": 0.1})


class Counts:
    def __init__(self) -> None:
        self.written = self.dropped = self.write_failures = 0

    def counters(self) -> LogCounters:
        def adder(name):
            return lambda amount=1: setattr(self, name, getattr(self, name) + amount)

        return LogCounters(adder("written"), adder("dropped"), adder("write_failures"))


def make_log(directory, counts: Counts, **kwargs) -> PredictionLog:
    return PredictionLog(str(directory), counters=counts.counters(), **kwargs)


def logged(directory) -> pd.DataFrame:
    """Everything written, read as the monitoring pipeline reads it."""
    partitions = PartitionedDataset(
        path=str(directory), dataset="pandas.ParquetDataset", filename_suffix=".parquet"
    ).load()
    return pd.concat([load() for load in partitions.values()], ignore_index=True)


def test_ids_are_unique_sortable_and_carry_their_time():
    before = datetime.now(tz=UTC)
    ids = [new_prediction_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(is_prediction_id(value) for value in ids)
    assert abs((prediction_time(ids[0]) - before).total_seconds()) < 1
    assert new_prediction_id(now_ms=1) < new_prediction_id(now_ms=2)
    assert not is_prediction_id("not-an-id")
    assert not is_prediction_id("0192F3A1B2C3D4E5F6A7B8C9")  # upper case is not what we send
    # What int(value, 16) would take: a sign, underscores, a 0x prefix.
    for almost in (
        "+192f3a1b2c3d4e5f6a7b8c9",
        "0192f3a1_2c3d4e5f6a7b8c9",
        "0x92f3a1b2c3d4e5f6a7b8c9",
    ):
        assert not is_prediction_id(almost), almost


def test_a_flush_writes_hour_partitions_with_every_field(tmp_path):
    counts = Counts()
    log = make_log(tmp_path / "log", counts)
    ids = log.record(["lost my bag", "great crew"], [SCORES, SCORES], "3")
    assert log.flush() == 2
    frame = logged(tmp_path / "log").set_index("prediction_id")
    assert sorted(frame.index) == sorted(ids)
    row = frame.loc[ids[0]]
    assert (row["label"], row["confidence"], row["model_version"]) == ("negative", 0.7, "3")
    assert json.loads(row["scores"]) == SCORES.scores
    assert (row["text"], row["text_length"]) == ("lost my bag", 11)
    assert row["text_sha256"] == hashlib.sha256(b"lost my bag").hexdigest()
    moment = prediction_time(ids[0])
    assert row["predicted_at"] == pd.Timestamp(moment).floor("ms")
    hour_folder = tmp_path / "log" / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"
    assert [path.suffix for path in hour_folder.iterdir()] == [".parquet"]
    assert counts.written == 2


def test_without_text_logging_only_length_and_hash_are_kept(tmp_path):
    log = make_log(tmp_path, Counts(), log_text=False)
    log.record(["my bag is lost"], [SCORES], "3")
    log.flush()
    row = logged(tmp_path).iloc[0]
    assert row["text"] is None
    assert row["text_length"] == 14
    assert row["text_sha256"] == hashlib.sha256(b"my bag is lost").hexdigest()


def test_sampling_keeps_a_share_and_zero_keeps_nothing(tmp_path):
    half = make_log(tmp_path / "half", Counts(), sample_rate=0.5)
    ids = half.record(["text"] * 2000, [SCORES] * 2000, "1")
    half.flush()
    assert len(ids) == 2000
    assert 850 < len(logged(tmp_path / "half")) < 1150
    off = make_log(tmp_path / "off", Counts(), sample_rate=0.0)
    assert len(off.record(["text"], [SCORES], "1")) == 1  # ids still handed out
    off.start()
    assert off.flush() == 0
    assert not (tmp_path / "off").exists()


def test_a_full_buffer_drops_and_counts_instead_of_waiting(tmp_path):
    counts = Counts()
    log = make_log(tmp_path, counts, max_buffer=10)
    log.record(["text"] * 25, [SCORES] * 25, "1")
    assert counts.dropped == 15
    assert log.flush() == 10


def test_a_failed_write_is_counted_and_retried(tmp_path):
    blocker = tmp_path / "log"
    blocker.write_text("a file where the folder should be")
    counts = Counts()
    log = make_log(blocker, counts)
    log.record(["lost my bag"], [SCORES], "1")
    assert log.flush() == 0
    assert counts.write_failures == 1
    blocker.unlink()
    assert log.flush() == 1  # the record waited in the buffer
    assert len(logged(blocker)) == 1


def test_the_writer_thread_flushes_on_its_interval_and_on_stop(tmp_path):
    counts = Counts()
    log = make_log(tmp_path, counts, flush_interval_s=0.2)
    log.start()
    try:
        log.record(["one"], [SCORES], "1")
        deadline = time.monotonic() + 10
        while counts.written < 1:
            assert time.monotonic() < deadline, "the thread never wrote"
            time.sleep(0.05)
        log.record(["two"], [SCORES], "1")
    finally:
        log.stop()
    assert counts.written == 2
    assert sorted(logged(tmp_path)["text"]) == ["one", "two"]


def test_a_prediction_is_found_in_memory_and_by_another_process(tmp_path):
    log = make_log(tmp_path, Counts())
    ids = log.record(["a", "b", "c"], [SCORES, SCORES._replace(label="positive"), SCORES], "7")
    assert log.find(ids[1]).label == "positive"  # before any write
    log.flush()
    other_worker = make_log(tmp_path, Counts())  # knows nothing in memory
    found = other_worker.find(ids[1])
    assert (found.prediction_id, found.label, found.model_version) == (ids[1], "positive", "7")
    assert other_worker.find(new_prediction_id()) is None
