"""Evaluation metrics and plots, checked against hand-countable predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from sentiment_mlops.metrics import compute_metrics
from sentiment_mlops.pipelines.evaluation.nodes import (
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
