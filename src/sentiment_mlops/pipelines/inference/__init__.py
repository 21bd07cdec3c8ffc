"""Score raw texts ("instances", no labels) with the packaged sentiment model."""

from sentiment_mlops.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
