"""The feedback pipeline: users' corrections of served predictions, as a training source."""

from sentiment_mlops.pipelines.feedback.pipeline import create_pipeline

__all__ = ["create_pipeline"]
