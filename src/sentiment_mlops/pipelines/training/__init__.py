"""Fit the classifier (Logistic Regression baseline) and track it with kedro-mlflow."""

from sentiment_mlops.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
