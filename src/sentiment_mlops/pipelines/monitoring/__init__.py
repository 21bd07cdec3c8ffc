"""The monitoring pipeline: drift of production traffic against the training data, and the
retraining decision."""

from sentiment_mlops.pipelines.monitoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
