"""Evaluation metrics and plots, checked against hand-countable predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from sentiment_mlops.metrics import compute_metrics, uncertainty_threshold
from sentiment_mlops.pipelines.evaluation.nodes import (
    check_uncertainty_on_test,
    compute_calibration_metrics,
    plot_confusion_matrix,
    plot_roc_curves,
    to_mlflow_metrics,
)
from sentiment_mlops.prediction import prediction_frame

pytestmark = pytest.mark.unit

CLASSES = ["negative", "neutral", "positive"]


@pytest.fixture
def predictions() -> pd.DataFrame:
    # true:      neg  neg  neu  pos  pos  pos
    # predicted: neg  neu  neu  pos  pos  neg
    probabilities = [
        [0.8, 0.1, 0.1],
        [0.3, 0.6, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.1, 0.8],
        [0.1, 0.2, 0.7],
        [0.5, 0.1, 0.4],
    ]
    frame = prediction_frame(probabilities, CLASSES)
    frame.insert(
        0, "true_label", ["negative", "negative", "neutral", "positive", "positive", "positive"]
    )
    return frame


def test_prediction_frame_has_label_confidence_and_a_column_per_class(predictions):
    assert list(predictions.columns) == ["true_label", "label", "confidence", *CLASSES]
    assert predictions["confidence"].tolist() == [0.8, 0.6, 0.7, 0.8, 0.7, 0.5]


def test_metrics_match_hand_counts(predictions):
    metrics = compute_metrics(predictions)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["negative_precision"] == pytest.approx(1 / 2)
    assert metrics["negative_recall"] == pytest.approx(1 / 2)
    assert metrics["neutral_precision"] == pytest.approx(1 / 2)
    assert metrics["neutral_recall"] == pytest.approx(1.0)
    assert metrics["positive_precision"] == pytest.approx(1.0)
    assert metrics["positive_recall"] == pytest.approx(2 / 3)
    assert metrics["positive_f1"] == pytest.approx(0.8)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert metrics["macro_recall"] == pytest.approx((0.5 + 1 + 2 / 3) / 3)
    assert all(isinstance(value, float) for value in metrics.values())


def test_metrics_have_every_documented_key(predictions):
    keys = {"accuracy", "macro_precision", "macro_recall", "macro_f1", "macro_roc_auc"}
    keys |= {
        f"{name}_{metric}"
        for name in CLASSES
        for metric in ("precision", "recall", "f1", "roc_auc")
    }
    assert set(compute_metrics(predictions)) == keys


def test_mlflow_format_wraps_each_value():
    assert to_mlflow_metrics({"accuracy": 0.5}) == {"accuracy": {"value": 0.5, "step": 0}}


def test_confusion_matrix_counts(predictions):
    heatmap = plot_confusion_matrix(predictions).data[0]
    assert list(heatmap.x) == CLASSES and list(heatmap.y) == CLASSES
    assert [list(row) for row in heatmap.z] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_roc_curves_one_per_class_plus_chance(predictions):
    names = [trace.name for trace in plot_roc_curves(predictions).data]
    assert len(names) == 4 and names[-1] == "chance"
    assert [name.split(" ")[0] for name in names[:3]] == CLASSES
    # negative scores of true negatives 0.8, 0.3 vs the rest 0.2, 0.1, 0.1, 0.5: 7 of 8 pairs ordered.
    assert names[0] == "negative (AUC 0.875)"


def _confidences(confidence: list[float], correct: list[bool]) -> pd.DataFrame:
    """Top-label predictions with the given confidences, right where ``correct`` says."""
    return pd.DataFrame(
        {
            "true_label": ["positive"] * len(correct),
            "label": ["positive" if right else "negative" for right in correct],
            "confidence": confidence,
        }
    )


def test_uncertainty_threshold_flags_the_confidences_where_answers_are_wrong_too_often():
    # Sorted by confidence: wrong, wrong, right, wrong | right, right, right, right.
    # Accuracy by confidence, made non-decreasing (isotonic): 0, 0, 0.5, 0.5, 1, 1, 1, 1.
    predictions = _confidences(
        [0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9],
        [False, False, True, False, True, True, True, True],
    )
    chosen = uncertainty_threshold(predictions, min_accuracy=0.6, min_texts=2)
    assert chosen == {
        "uncertain_below_confidence": 0.6,
        "uncertain_share": 4 / 8,
        "uncertain_accuracy": 1 / 4,
        "confident_accuracy": 1.0,
    }
    # The group rule (the highest confidence below which the group is under 60 %) would have
    # said 0.9: 4 of the 7 below it are right, so it flags three right answers at 0.6-0.8.
    looser = uncertainty_threshold(predictions, min_accuracy=0.45, min_texts=2)
    assert looser["uncertain_below_confidence"] == 0.5  # 0.5 and 0.55 are right half the time
    assert looser["uncertain_share"] == 2 / 8


def test_uncertainty_threshold_needs_enough_texts_and_keeps_ties_together():
    # Two wrong answers at the bottom are too few for min_texts=3; the three answers tied at
    # 0.5 (two right) are one point of the accuracy curve and move together.
    predictions = _confidences(
        [0.4, 0.4, 0.5, 0.5, 0.5, 0.9], [False, False, True, True, False, True]
    )
    assert uncertainty_threshold(predictions, min_accuracy=0.6, min_texts=3) == {
        "uncertain_below_confidence": 0.0,
        "uncertain_share": 0.0,
        "confident_accuracy": 3 / 6,  # nothing flagged: every answer counts as confident
    }
    tied = uncertainty_threshold(predictions, min_accuracy=0.6, min_texts=2)
    assert tied["uncertain_below_confidence"] == 0.5  # the tie at 0.5 is 2 / 3 right: kept
    assert tied["uncertain_share"] == 2 / 6
    stricter = uncertainty_threshold(predictions, min_accuracy=0.7, min_texts=2)
    assert stricter["uncertain_below_confidence"] == 0.9  # all three at 0.5 flagged together
    assert stricter["uncertain_share"] == 5 / 6


def test_a_model_never_right_often_enough_flags_every_answer():
    predictions = _confidences([0.5, 0.7, 0.9], [False, True, False])
    chosen = uncertainty_threshold(predictions, min_accuracy=0.6, min_texts=1)
    assert chosen["uncertain_share"] == 1.0
    assert chosen["uncertain_below_confidence"] > 0.9


def test_the_test_split_check_applies_the_validation_threshold_as_it_is():
    test_answers = _confidences([0.3, 0.5, 0.65, 0.8], [True, False, False, True])
    assert check_uncertainty_on_test(test_answers, {"uncertain_below_confidence": 0.6}) == {
        "uncertain_share": 0.5,
        "uncertain_accuracy": 0.5,
        "confident_accuracy": 0.5,
    }
    assert check_uncertainty_on_test(test_answers, {"uncertain_below_confidence": 0.0}) == {
        "uncertain_share": 0.0,
        "confident_accuracy": 0.5,
    }


@pytest.mark.parametrize(
    ("min_accuracy", "min_texts", "message"),
    [(0.0, 5, "min_accuracy=0.0"), (1.5, 5, "min_accuracy=1.5"), (0.6, 0, "min_texts=0")],
)
def test_uncertainty_threshold_refuses_bad_settings(min_accuracy, min_texts, message):
    with pytest.raises(ValueError, match=message):
        uncertainty_threshold(_confidences([0.5], [True]), min_accuracy, min_texts)


def test_calibration_metrics_report_how_often_the_served_model_keeps_the_label(predictions):
    served = predictions.copy()
    served.loc[5, "label"] = "positive"  # the served runtime changed one answer of six
    metrics = compute_calibration_metrics(predictions, served)
    assert metrics["served_label_agreement"] == pytest.approx(5 / 6)
    assert compute_calibration_metrics(predictions, predictions)["served_label_agreement"] == 1.0
