"""Nodes of the evaluation pipeline: test metrics and plots of the selected model, the
comparison of all candidates, and the registry step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from sentiment_mlops.metrics import class_columns, uncertainty_on_split
from sentiment_mlops.mlflow_registry import split_fingerprint


def to_mlflow_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """kedro-mlflow's metrics format: ``{name: {"value": v, "step": 0}}``."""
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}


def plot_confusion_matrix(test_predictions: pd.DataFrame) -> go.Figure:
    """Heatmap of counts, rows = true class, columns = predicted class."""
    classes = class_columns(test_predictions)
    counts = confusion_matrix(
        test_predictions["true_label"], test_predictions["label"], labels=classes
    )
    figure = go.Figure(
        go.Heatmap(
            z=counts,
            x=classes,
            y=classes,
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}",
            hovertemplate="true %{y}<br>predicted %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Confusion matrix (test split)",
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
    )
    return figure


def _diagonal(name: str) -> go.Scatter:
    """The dashed y = x reference line (chance for ROC, perfect calibration for reliability)."""
    return go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", name=name, line={"dash": "dash", "color": "grey"}
    )


def plot_roc_curves(test_predictions: pd.DataFrame) -> go.Figure:
    """One-vs-rest ROC curve per class, with its AUC in the legend."""
    figure = go.Figure()
    for name in class_columns(test_predictions):
        is_class = test_predictions["true_label"] == name
        false_positive, true_positive, _ = roc_curve(is_class, test_predictions[name])
        auc = roc_auc_score(is_class, test_predictions[name])
        figure.add_trace(
            go.Scatter(
                x=false_positive, y=true_positive, mode="lines", name=f"{name} (AUC {auc:.3f})"
            )
        )
    figure.add_trace(_diagonal("chance"))
    figure.update_layout(
        title="ROC curves, one-vs-rest (test split)",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate",
    )
    return figure


# ------------------------------------------------------------------------- calibration
CALIBRATION_BINS = 10


def _reliability_bins(test_predictions: pd.DataFrame) -> pd.DataFrame:
    """Per confidence bin (equal width on [0, 1]): row count, mean confidence, accuracy."""
    confidence = test_predictions["confidence"].to_numpy(dtype=float)
    correct = (test_predictions["label"] == test_predictions["true_label"]).to_numpy(dtype=float)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    # right-closed bins; confidence 0 cannot occur (it is the top class), 1.0 lands in the last
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, CALIBRATION_BINS - 1)
    frame = pd.DataFrame({"bin": bins, "confidence": confidence, "correct": correct})
    return frame.groupby("bin").agg(
        count=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean")
    )


def expected_calibration_error(test_predictions: pd.DataFrame) -> float:
    """Top-label ECE: the count-weighted mean |accuracy - confidence| over confidence bins."""
    bins = _reliability_bins(test_predictions)
    gaps = (bins["accuracy"] - bins["confidence"]).abs()
    return float((gaps * bins["count"]).sum() / bins["count"].sum())


def compute_calibration_metrics(
    test_predictions: pd.DataFrame, calibrated_test_predictions: pd.DataFrame
) -> dict[str, float]:
    """ECE of the served (calibrated) model on the test split, and of the uncalibrated one; the
    share of test texts on which both give the same label (1.0 unless the served model runs on
    another runtime, such as int8 ONNX, or a calibration method that may change labels)."""
    return {
        "expected_calibration_error": expected_calibration_error(calibrated_test_predictions),
        "expected_calibration_error_uncalibrated": expected_calibration_error(test_predictions),
        "served_label_agreement": float(
            (
                calibrated_test_predictions["label"].to_numpy()
                == test_predictions["label"].to_numpy()
            ).mean()
        ),
    }


def check_uncertainty_on_test(
    calibrated_test_predictions: pd.DataFrame, uncertainty_threshold: dict[str, float]
) -> dict[str, float]:
    """The "uncertain" threshold chosen on validation, applied to the served model's test
    answers: the share it flags there and the accuracy on either side."""
    return uncertainty_on_split(
        calibrated_test_predictions, uncertainty_threshold["uncertain_below_confidence"]
    )


def plot_reliability_diagram(
    test_predictions: pd.DataFrame, calibrated_test_predictions: pd.DataFrame
) -> go.Figure:
    """Accuracy against mean confidence per bin, before and after calibration."""
    figure = go.Figure()
    for name, predictions in (
        ("uncalibrated", test_predictions),
        ("calibrated", calibrated_test_predictions),
    ):
        bins = _reliability_bins(predictions)
        ece = expected_calibration_error(predictions)
        figure.add_trace(
            go.Scatter(
                x=bins["confidence"],
                y=bins["accuracy"],
                mode="lines+markers",
                name=f"{name} (ECE {ece:.3f})",
                customdata=bins["count"],
                hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} texts",
            )
        )
    figure.add_trace(_diagonal("perfect"))
    figure.update_layout(
        title="Reliability diagram (test split)",
        xaxis_title="mean confidence of the predicted class",
        yaxis_title="accuracy",
    )
    return figure


# ------------------------------------------------------------------ comparison of candidates
COMPARISON_COLUMNS = [
    "rank",
    "model",
    "val_macro_f1",
    "val_accuracy",
    "val_macro_recall",
    "cv_folds",
    "cv_f1_macro_mean",
    "cv_f1_macro_std",
    "fit_time_s",
    "search_time_s",
    "predict_rows_per_s",
    "best_params",
]


def comparison_markdown(model_comparison: pd.DataFrame) -> str:
    """The comparison as a markdown table (validation scores; best first)."""
    class_f1 = [
        column
        for column in model_comparison.columns
        if column.startswith("val_") and column.endswith("_f1") and column != "val_macro_f1"
    ]
    columns = [*COMPARISON_COLUMNS[:5], *class_f1, *COMPARISON_COLUMNS[5:]]
    # cv_* columns exist only if some candidate was cross-validated (cv_folds >= 2).
    columns = [column for column in columns if column in model_comparison.columns]
    table = model_comparison[columns]
    header = "| " + " | ".join(columns) + " |"
    divider = "|" + "|".join("---:" if table[c].dtype.kind in "fiu" else "---" for c in columns)
    lines = [header, divider + "|"]
    for _, row in table.iterrows():
        cells = [_markdown_cell(value) for value in row]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        "# Model comparison (validation split)\n\n"
        "Each candidate was tuned by GridSearchCV on the training split (cv_* columns), "
        "refitted with its best parameters, and scored on the validation split (val_*). "
        "A candidate with cv_folds 0 was fitted once, without cross-validation (blank cv_* "
        "cells). Only the rank-1 model is evaluated on the test split.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def _markdown_cell(value: Any) -> str:
    """A float to 4 decimals (blank when missing), anything else as escaped text."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("|", "\\|")


def plot_model_f1(model_comparison: pd.DataFrame) -> go.Figure:
    """Grouped bars: validation macro-F1 and per-class F1 of every candidate."""
    metrics = ["val_macro_f1"] + [
        column
        for column in model_comparison.columns
        if column.startswith("val_") and column.endswith("_f1") and column != "val_macro_f1"
    ]
    figure = go.Figure(
        [
            go.Bar(
                name=metric.removeprefix("val_"),
                x=model_comparison["model"],
                y=model_comparison[metric],
            )
            for metric in metrics
        ]
    )
    figure.update_layout(
        title="Macro-F1 and per-class F1 per model (validation split)",
        barmode="group",
        yaxis_title="F1",
        yaxis_range=[0, 1],
    )
    return figure


def plot_fit_time_vs_score(model_comparison: pd.DataFrame) -> go.Figure:
    """Refit time (log scale) against validation macro-F1, one point per candidate."""
    figure = go.Figure(
        go.Scatter(
            x=model_comparison["fit_time_s"],
            y=model_comparison["val_macro_f1"],
            mode="markers+text",
            text=model_comparison["model"],
            textposition="top center",
            hovertemplate="%{text}<br>fit %{x:.1f} s<br>macro-F1 %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Fit time vs validation macro-F1",
        xaxis_title="refit time on the training split (s, log scale)",
        xaxis_type="log",
        yaxis_title="macro-F1 (validation)",
    )
    return figure


def request_promotion(
    metrics: dict[str, float],
    test_split: pd.DataFrame,
    source: str,
) -> dict[str, Any]:
    """What the champion decision needs: the test macro-F1 and the test data's identity.

    The decision itself (``mlflow_registry.promote_if_better``) is taken by ``hooks.PromotionHook``
    once kedro-mlflow has registered this run's packaged model, which happens after the
    last node.
    """
    return {
        "test_macro_f1": float(metrics["macro_f1"]),
        "data_source": source,
        "test_split_sha256": split_fingerprint(test_split),
    }
