"""Sentiment MLOps: train, compare, version and serve sentiment models with Kedro."""

__version__ = "0.1.0"
