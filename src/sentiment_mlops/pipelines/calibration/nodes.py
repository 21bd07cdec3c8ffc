"""Nodes of the calibration pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from sentiment_mlops.estimators import estimator_parts

logger = logging.getLogger(__name__)

#: How the served model runs a fine-tuned transformer (parameters_calibration.yml, `serving`).
SERVING_RUNTIMES = ("eager", "onnx", "onnx_int8")
FINE_TUNED_MODULE = "sentiment_mlops.networks.finetune"


def prepare_serving_model(sentiment_model: Any, serving: dict[str, Any]) -> Any:
    """``sentiment_model`` as the service will run it: with ``runtime: onnx`` / ``onnx_int8``
    its fine-tuned transformers run on ONNX Runtime (float32 / int8 weights); any other model,
    or ``runtime: eager``, is returned as it is."""
    runtime = serving.get("runtime", "eager")
    if runtime not in SERVING_RUNTIMES:
        raise ValueError(
            f"serving.runtime {runtime!r} is not one of {list(SERVING_RUNTIMES)} "
            "(parameters_calibration.yml)."
        )
    transformers = [
        part
        for part in estimator_parts(sentiment_model)
        if type(part).__module__ == FINE_TUNED_MODULE
    ]
    if runtime == "eager" or not transformers:
        return sentiment_model
    # Imported only here: ONNX Runtime comes with the `pretrained` extra.
    from sentiment_mlops.networks.onnx_runtime import with_onnx_runtime  # noqa: PLC0415

    logger.info(
        "Exporting %d fine-tuned transformer(s) to ONNX Runtime (%s)", len(transformers), runtime
    )
    return with_onnx_runtime(sentiment_model, quantize=runtime == "onnx_int8")


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
