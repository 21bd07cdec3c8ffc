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
from sklearn.isotonic import IsotonicRegression
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

    Accuracy as a function of confidence is estimated by isotonic regression of "was right" on
    the confidence (scikit-learn's ``IsotonicRegression``: neighbouring confidences are pooled
    until accuracy never falls as confidence rises). The threshold is the lowest confidence
    whose estimated accuracy reaches ``min_accuracy``: every answer below it sits where answers
    were right less than ``min_accuracy`` of the time, and none above it does. So "uncertain"
    means "answers like this one are wrong too often", not a fixed number that suits one model
    only. (Asking instead that the whole group below be under ``min_accuracy`` would also flag
    the better answers just under the threshold, whose accuracy pulls the group's up to it.)

    ``uncertain_below_confidence`` is 0.0 (nothing is flagged) when fewer than ``min_texts``
    answers fall below, too few to trust the estimate. Also returns the share of texts flagged
    and the accuracy of both groups (:func:`uncertainty_on_split`).
    """
    if not 0.0 < min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy={min_accuracy} must lie in (0, 1].")
    if min_texts < 1:
        raise ValueError(f"min_texts={min_texts} must be at least 1.")
    confidence = predictions["confidence"].to_numpy(dtype=float)
    correct = (predictions["label"] == predictions["true_label"]).to_numpy(dtype=float)
    # Each distinct confidence is a candidate; "below" is strict, so ties stay together.
    values = np.unique(confidence)
    accuracy = IsotonicRegression(increasing=True).fit(confidence, correct).predict(values)
    reliable = accuracy >= min_accuracy
    # None reliable: every answer is uncertain, the most confident one too.
    threshold = float(values[reliable][0]) if reliable.any() else float(np.nextafter(values[-1], 2))
    if (confidence < threshold).sum() < min_texts:
        threshold = 0.0
    return {"uncertain_below_confidence": threshold, **uncertainty_on_split(predictions, threshold)}


def uncertainty_on_split(predictions: pd.DataFrame, threshold: float) -> dict[str, float]:
    """What flagging answers below ``threshold`` as uncertain does on a labelled split: the
    share flagged, the accuracy of the confident rest and, when any are flagged, theirs.

    The evaluation applies the threshold chosen on validation to the test split with it, to
    show whether "uncertain" keeps its meaning on texts the choice never saw."""
    confidence = predictions["confidence"].to_numpy(dtype=float)
    correct = (predictions["label"] == predictions["true_label"]).to_numpy(dtype=bool)
    flagged = confidence < threshold
    result = {
        "uncertain_share": float(flagged.mean()),
        "confident_accuracy": float(correct[~flagged].mean()) if (~flagged).any() else 0.0,
    }
    if flagged.any():
        result["uncertain_accuracy"] = float(correct[flagged].mean())
    return result
