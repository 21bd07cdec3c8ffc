"""Metrics, confusion matrix and ROC curves of the trained model on the test split."""

from sentiment_mlops.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
