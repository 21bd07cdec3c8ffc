"""Turn a fitted classifier's probabilities into the project's prediction table.

One implementation for evaluation, the batch inference pipeline and the API: a
``label``, its ``confidence``, and one probability column per class named after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def prediction_frame(probabilities: np.ndarray, classes: list[str] | np.ndarray) -> pd.DataFrame:
    """``label`` (the most probable class), ``confidence`` (its probability), per-class scores."""
    probabilities = np.asarray(probabilities, dtype=float)
    classes = [str(name) for name in classes]
    best = probabilities.argmax(axis=1)
    # One constructor call: inserting columns afterwards costs more than scoring one text.
    columns = {
        "label": np.asarray(classes, dtype=object)[best],
        "confidence": probabilities[np.arange(len(best)), best],
    }
    columns.update({name: probabilities[:, index] for index, name in enumerate(classes)})
    return pd.DataFrame(columns)


def predict_frame(model: Any, features: Any) -> pd.DataFrame:
    """Score ``features`` with ``model.predict_proba`` into a :func:`prediction_frame`."""
    return prediction_frame(model.predict_proba(features), model.classes_)
