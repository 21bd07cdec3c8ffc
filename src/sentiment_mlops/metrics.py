"""Classification metrics of a model on a labelled split.

The training pipeline ranks candidates on the validation split with these functions and
the evaluation pipeline tests the selected model on the test split with the same ones, so
a validation score and a test score mean the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from sentiment_mlops.prediction import prediction_frame


def predict_test_split(sentiment_model: Any, test_split: pd.DataFrame) -> pd.DataFrame:
    """Score a labelled split's raw texts with the assembled model, as inference will.

    Returns the text and its true label beside the predicted label and class scores.
    """
    return scored_split(
        test_split, sentiment_model.predict_proba(test_split["text"]), sentiment_model.classes_
    )


def scored_split(
    split: pd.DataFrame, probabilities: np.ndarray, classes: Sequence[Any]
) -> pd.DataFrame:
    """A labelled split's texts and true labels beside the label and class scores that
    ``probabilities`` (one row per text, columns in ``classes`` order) give."""
    return pd.concat(
        [
            split[["text"]].assign(true_label=split["label"].to_numpy()),
            prediction_frame(probabilities, classes),
        ],
        axis=1,
    )


def class_columns(test_predictions: pd.DataFrame) -> list[str]:
    """The class names: the score columns that follow ``confidence``."""
    first_score = test_predictions.columns.get_loc("confidence") + 1
    return list(test_predictions.columns[first_score:])


def compute_metrics(test_predictions: pd.DataFrame) -> dict[str, float]:
    """Accuracy; precision, recall, F1 per class and macro-averaged; ROC AUC per class."""
    classes = class_columns(test_predictions)
    truth, predicted = test_predictions["true_label"], test_predictions["label"]
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    metrics = {
        "accuracy": accuracy_score(truth, predicted),
        "macro_precision": precision.mean(),
        "macro_recall": recall.mean(),
        "macro_f1": f1.mean(),
    }
    for index, name in enumerate(classes):
        metrics[f"{name}_precision"] = precision[index]
        metrics[f"{name}_recall"] = recall[index]
        metrics[f"{name}_f1"] = f1[index]
        metrics[f"{name}_roc_auc"] = roc_auc_score(truth == name, test_predictions[name])
    metrics["macro_roc_auc"] = np.mean([metrics[f"{name}_roc_auc"] for name in classes])
    return {name: float(value) for name, value in metrics.items()}


def uncertainty_threshold(
    predictions: pd.DataFrame, min_accuracy: float, min_texts: int
) -> dict[str, float]:
    """The confidence below which a prediction is flagged ``uncertain``, chosen on labelled data.

    The highest confidence ``t`` such that the predictions below ``t``, at least ``min_texts`` of
    them, were right less than ``min_accuracy`` of the time as a group: so "uncertain" means
    "on this data, about a coin flip or worse", not a fixed number that suits one model only.
    ``uncertain_below_confidence`` is 0.0 (nothing is flagged) when no such group exists.
    Also returns the share of texts flagged and the accuracy of both groups.
    """
    if not 0.0 < min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy={min_accuracy} must lie in (0, 1].")
    if min_texts < 1:
        raise ValueError(f"min_texts={min_texts} must be at least 1.")
    order = np.argsort(predictions["confidence"].to_numpy(dtype=float), kind="stable")
    confidence = predictions["confidence"].to_numpy(dtype=float)[order]
    correct = (predictions["label"] == predictions["true_label"]).to_numpy(dtype=float)[order]
    right_so_far = np.concatenate([[0.0], np.cumsum(correct)])
    # Candidate thresholds: each distinct confidence; "below" is strict, so ties stay together.
    values, below = np.unique(confidence, return_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy_below = right_so_far[below] / below
    eligible = (below >= min_texts) & (accuracy_below < min_accuracy)
    threshold = float(values[eligible][-1]) if eligible.any() else 0.0
    flagged = int(below[eligible][-1]) if eligible.any() else 0
    result = {
        "uncertain_below_confidence": threshold,
        "uncertain_share": flagged / len(confidence),
        "confident_accuracy": float(correct[flagged:].mean()) if flagged < len(correct) else 0.0,
    }
    if flagged:
        result["uncertain_accuracy"] = float(correct[:flagged].mean())
    return result
