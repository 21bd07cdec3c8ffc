"""Turn a fitted classifier's probabilities into the project's predictions.

One implementation for evaluation, the batch inference pipeline and the API: a ``label``
(the most probable class), its ``confidence``, and one probability per class.
:func:`class_scores` computes them on numpy arrays; :func:`prediction_frame` lays them out
as a table (``label``, ``confidence``, one column per class named after it) for the
pipelines, and the API reads the arrays directly, without building a table per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd


class TextScores(NamedTuple):
    """The prediction for one text, as plain Python values."""

    label: str
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True)
class ClassScores:
    """Predictions for ``n`` texts: ``labels`` and ``confidences`` (length ``n``) and
    ``probabilities`` (``n`` x classes, columns in the order of ``classes``)."""

    classes: list[str]
    labels: np.ndarray
    confidences: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def to_frame(self) -> pd.DataFrame:
        """The prediction table: ``label``, ``confidence``, one column per class."""
        # One constructor call: inserting columns afterwards costs more than scoring one text.
        columns = {"label": self.labels, "confidence": self.confidences}
        columns.update({name: self.probabilities[:, i] for i, name in enumerate(self.classes)})
        return pd.DataFrame(columns)

    def rows(self) -> list[TextScores]:
        """One :class:`TextScores` per text, in order."""
        classes = self.classes
        return [
            TextScores(label, confidence, dict(zip(classes, scores, strict=True)))
            for label, confidence, scores in zip(
                self.labels.tolist(),
                self.confidences.tolist(),
                self.probabilities.tolist(),
                strict=True,
            )
        ]


def class_scores(probabilities: np.ndarray, classes: list[str] | np.ndarray) -> ClassScores:
    """``label`` (the most probable class), ``confidence`` (its probability), per-class scores."""
    probabilities = np.asarray(probabilities, dtype=float)
    classes = [str(name) for name in classes]
    best = probabilities.argmax(axis=1)
    return ClassScores(
        classes=classes,
        labels=np.asarray(classes, dtype=object)[best],
        confidences=probabilities[np.arange(len(best)), best],
        probabilities=probabilities,
    )


def prediction_frame(probabilities: np.ndarray, classes: list[str] | np.ndarray) -> pd.DataFrame:
    """:func:`class_scores` as a table: ``label``, ``confidence``, one column per class."""
    return class_scores(probabilities, classes).to_frame()


def predict_scores(model: Any, features: Any) -> ClassScores:
    """Score ``features`` with ``model.predict_proba`` into :func:`class_scores`."""
    return class_scores(model.predict_proba(features), model.classes_)


def predict_frame(model: Any, features: Any) -> pd.DataFrame:
    """Score ``features`` with ``model.predict_proba`` into a :func:`prediction_frame`."""
    return prediction_frame(model.predict_proba(features), model.classes_)
