"""Calibrate the trained model's probabilities on the validation split."""

from sentiment_mlops.pipelines.calibration.pipeline import create_pipeline

__all__ = ["create_pipeline"]
