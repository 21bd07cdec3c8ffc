"""Nodes of the monitoring pipeline over the served version (:class:`ServedReference`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sentiment_mlops.datasets.served_reference_dataset import ServedReference
from sentiment_mlops.prediction import predict_frame


def reference_texts(served_reference: ServedReference) -> pd.DataFrame:
    """The training split the served version learned from."""
    return served_reference.train_split


def predict_reference(served_reference: ServedReference) -> pd.DataFrame:
    """The served version's predictions on its own training texts: the class mix and the
    confidences the window's are compared with."""
    texts = np.asarray(served_reference.train_split["text"].tolist(), dtype=object)
    return predict_frame(served_reference.estimator, texts)


def served_test_macro_f1(served_reference: ServedReference) -> float | None:
    """The served version's test macro-F1 (what feedback accuracy is held against)."""
    return served_reference.test_macro_f1


def version_tags(
    served_reference: ServedReference, drift_metrics: dict[str, Any]
) -> dict[str, str]:
    """The verdict, as tags of the served version in the registry."""
    return {
        "model_name": served_reference.model_name,
        "version": served_reference.version,
        "monitoring.retrain_recommended": str(drift_metrics["retrain_recommended"]).lower(),
        "monitoring.window_predictions": str(drift_metrics["window_predictions"]),
        "monitoring.reasons": "; ".join(drift_metrics["retrain_reasons"]) or "none",
    }
