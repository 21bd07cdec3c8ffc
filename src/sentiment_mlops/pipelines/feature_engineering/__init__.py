"""Vectorizer and class-imbalance handling, fitted on the training split only."""

from sentiment_mlops.pipelines.feature_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
