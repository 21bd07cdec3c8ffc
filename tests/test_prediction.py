"""Label, confidence and per-class scores from probabilities: the arrays, the rows, the table."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment_mlops.prediction import TextScores, class_scores, prediction_frame

pytestmark = pytest.mark.unit

CLASSES = ["negative", "neutral", "positive"]
PROBABILITIES = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6]]


def test_class_scores_pick_the_most_probable_class_and_its_probability():
    scores = class_scores(PROBABILITIES, np.array(CLASSES))
    assert scores.classes == CLASSES
    assert scores.labels.tolist() == ["negative", "neutral", "positive"]
    assert scores.confidences.tolist() == [0.8, 0.6, 0.6]
    np.testing.assert_array_equal(scores.probabilities, PROBABILITIES)


def test_rows_are_plain_python_values_in_order():
    rows = class_scores(PROBABILITIES, CLASSES).rows()
    assert rows[1] == TextScores("neutral", 0.6, {"negative": 0.3, "neutral": 0.6, "positive": 0.1})
    assert [type(value) for value in rows[0][:2]] == [str, float]
    assert all(type(score) is float for row in rows for score in row.scores.values())


def test_the_table_holds_the_same_numbers_as_the_rows():
    frame = prediction_frame(PROBABILITIES, CLASSES)
    rows = class_scores(PROBABILITIES, CLASSES).rows()
    assert list(frame.columns) == ["label", "confidence", *CLASSES]
    assert frame["label"].tolist() == [row.label for row in rows]
    assert frame["confidence"].tolist() == [row.confidence for row in rows]
    assert frame[CLASSES].to_dict("records") == [row.scores for row in rows]
