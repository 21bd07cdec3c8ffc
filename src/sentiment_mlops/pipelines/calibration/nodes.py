"""Nodes of the calibration pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

logger = logging.getLogger(__name__)


def calibrate_model(
    sentiment_model: Any, validation_split: pd.DataFrame, calibration: dict[str, Any]
) -> CalibratedClassifierCV:
    """Fit a probability calibrator on the validation split, leaving the model itself frozen.

    The result still takes raw texts. With ``method: temperature`` (one parameter, multiclass)
    the predicted labels stay those of ``sentiment_model``; only the confidences change.
    """
    calibrated = CalibratedClassifierCV(
        FrozenEstimator(sentiment_model), method=calibration["method"]
    )
    calibrated.fit(
        validation_split["text"].to_numpy(dtype=object),
        validation_split["label"].to_numpy(dtype=object),
    )
    logger.info(
        "Calibrated %s probabilities (%s) on %d validation texts",
        type(sentiment_model).__name__,
        calibration["method"],
        len(validation_split),
    )
    return calibrated
