"""Batch scoring on a Dask cluster: partitions of texts in, partitioned Parquet predictions out."""

from sentiment_mlops.pipelines.inference_dask.pipeline import create_pipeline

__all__ = ["create_pipeline"]
