"""Project datasets: raw public sentiment sources and how their files are found."""

from sentiment_mlops.datasets.sentiment_source_dataset import SentimentSourceDataset

__all__ = ["SentimentSourceDataset"]
