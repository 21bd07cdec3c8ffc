"""Tune the candidate models with GridSearchCV, track each in MLflow, keep the best."""

from sentiment_mlops.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
