"""Feedback labels as training data: the join with the logged texts, and the training split
they join (never validation or test)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from sentiment_mlops.api.prediction_log import hour_partition, new_prediction_id, prediction_time
from sentiment_mlops.pipelines.data_processing.nodes import add_feedback_to_training, clean_texts
from sentiment_mlops.pipelines.feedback.nodes import labelled_feedback

pytestmark = pytest.mark.unit

CLEANING = {"lowercase": True, "replace_urls": True, "replace_mentions": True}
HOUR_MS = 3_600_000


def partition_of(prediction_id: str) -> str:
    return f"{hour_partition(prediction_time(prediction_id))}/part-{prediction_id}"


def log_partitions(rows_by_id: dict[str, str | None]) -> dict:
    """One partition per prediction: id -> its text (None: text logging was off)."""
    return {
        partition_of(key): (
            lambda key=key, text=text: pd.DataFrame(
                {"prediction_id": [key], "text": [text], "label": ["neutral"]}
            )
        )
        for key, text in rows_by_id.items()
    }


def feedback_partitions(labels: dict[str, str], received: str = "2026-12-06T10:00") -> dict:
    frame = pd.DataFrame(
        {
            "prediction_id": list(labels),
            "label": list(labels.values()),
            "received_at": pd.Timestamp(received, tz="UTC"),
        }
    )
    return {f"date=2026-12-06/hour=10/feedback-{received}": lambda: frame}


def test_feedback_gets_its_logged_text_and_reads_only_its_hours():
    now = 1_780_000_000_000
    with_feedback = new_prediction_id(now)
    other_hour = new_prediction_id(now + 5 * HOUR_MS)
    log = log_partitions({with_feedback: "my bag is lost"})

    def must_not_load():
        raise AssertionError("an hour without feedback was read")

    log[partition_of(other_hour)] = must_not_load
    table = labelled_feedback(feedback_partitions({with_feedback: "negative"}), log)
    assert table.to_dict("records") == [
        {"text": "my bag is lost", "label": "negative", "source": "feedback"}
    ]


def test_the_latest_feedback_wins():
    key = new_prediction_id()
    feedback = {
        **feedback_partitions({key: "positive"}, "2026-12-06T10:00"),
        **feedback_partitions({key: "negative"}, "2026-12-06T11:00"),
    }
    table = labelled_feedback(feedback, log_partitions({key: "great crew"}))
    assert table["label"].tolist() == ["negative"]


def test_feedback_without_a_logged_text_is_left_out_and_said(caplog):
    logged, hashed = new_prediction_id(), new_prediction_id()
    log = log_partitions({logged: "great crew", hashed: None})
    with caplog.at_level(logging.WARNING):
        table = labelled_feedback(
            feedback_partitions({logged: "positive", hashed: "negative"}), log
        )
    assert table["text"].tolist() == ["great crew"]
    assert "1 of 2 feedback labels have no logged text" in caplog.text


def test_no_feedback_is_a_clear_error():
    with pytest.raises(ValueError, match="No feedback labels were found"):
        labelled_feedback({}, {})


def split(texts: list[str], labels: list[str]) -> pd.DataFrame:
    canonical = pd.DataFrame({"text": texts, "label": labels, "source": "airline"})
    return clean_texts(canonical, CLEANING)[["text", "clean_text", "label", "source"]]


def test_feedback_joins_training_only_and_never_a_held_out_text():
    train = split(["great crew", "lost my bag", "flight 12"], ["positive", "negative", "neutral"])
    validation = split(["the gate moved"], ["neutral"])
    test = split(["delayed AGAIN"], ["negative"])
    feedback = pd.DataFrame(
        {
            "text": ["Delayed again", "the gate moved", "GREAT crew", "love this speaker", "  "],
            "label": ["negative", "neutral", "positive", "positive", "neutral"],
            "source": "feedback",
        }
    )
    augmented = add_feedback_to_training(train, validation, test, feedback, CLEANING)
    assert augmented.iloc[:3].equals(train)  # the source's rows, untouched and first
    added = augmented.iloc[3:]
    assert added[["text", "clean_text", "label", "source"]].values.tolist() == [
        ["love this speaker", "love this speaker", "positive", "feedback"]
    ]


def test_feedback_with_a_class_the_source_lacks_is_refused():
    train = split(["great movie", "awful movie"], ["positive", "negative"])
    feedback = pd.DataFrame({"text": ["it was a film"], "label": ["neutral"], "source": "feedback"})
    with pytest.raises(ValueError, match=r"labels \['neutral'\] that the source's training split"):
        add_feedback_to_training(train, train.iloc[:0], train.iloc[:0], feedback, CLEANING)
