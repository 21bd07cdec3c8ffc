"""Classification metrics of a model on a labelled split.

The training pipeline ranks candidates on the validation split with these functions and
the evaluation pipeline tests the selected model on the test split with the same ones, so
a validation score and a test score mean the same thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from sentiment_mlops.prediction import predict_frame


def predict_test_split(sentiment_model: Any, test_split: pd.DataFrame) -> pd.DataFrame:
    """Score a labelled split's raw texts with the assembled model, as inference will.

    Returns the text and its true label beside the predicted label and class scores.
    """
    predictions = predict_frame(sentiment_model, test_split["text"])
    return pd.concat(
        [test_split[["text"]].assign(true_label=test_split["label"].to_numpy()), predictions],
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
