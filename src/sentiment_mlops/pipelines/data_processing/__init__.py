"""Raw source -> canonical (text, label, source) table -> clean -> dedupe -> split."""

from sentiment_mlops.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
