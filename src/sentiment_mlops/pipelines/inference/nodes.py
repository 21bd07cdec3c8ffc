"""Nodes of the inference pipeline.

``predict_sentiment`` is the scoring node: the batch pipeline runs it on each chunk of a CSV
and the packaged MLflow model runs it through Kedro. The API scores the same fitted model with
the same computation (:func:`sentiment_mlops.prediction.predict_scores`, of which this node's
table is a layout) without building a table per request. All three give the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from sentiment_mlops.prediction import predict_frame

logger = logging.getLogger(__name__)

TEXT_COLUMN = "text"


def predict_sentiment(sentiment_model: Any, instances: pd.DataFrame) -> pd.DataFrame:
    """``label``, ``confidence`` and one probability per class for each row's raw ``text``.

    The model is the fitted raw-text pipeline (cleaner -> vectorizer -> classifier, possibly
    calibrated), so cleaning and vectorizing are exactly the training code.
    """
    if TEXT_COLUMN not in instances.columns:
        raise ValueError(
            f"Instances need a {TEXT_COLUMN!r} column of raw texts; got columns "
            f"{list(instances.columns)}. Rename the text column to {TEXT_COLUMN!r}."
        )
    texts = instances[TEXT_COLUMN]
    missing = texts.isna().to_numpy()
    if missing.any():
        rows = list(instances.index[missing][:10])
        raise ValueError(
            f"{int(missing.sum())} instance(s) have no text (index {rows}"
            f"{'...' if missing.sum() > 10 else ''}); remove or fill those rows."
        )
    predictions = predict_frame(sentiment_model, texts.to_numpy(dtype=object))
    predictions.index = instances.index
    return predictions


def scored_table(sentiment_model: Any, instances: pd.DataFrame) -> pd.DataFrame:
    """The rows' ``text`` followed by their predictions: the layout of the batch outputs."""
    return pd.concat(
        [instances[[TEXT_COLUMN]], predict_sentiment(sentiment_model, instances)], axis=1
    )


def score_instances(
    sentiment_model: Any, instances: pd.DataFrame | Iterable[pd.DataFrame]
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Score a table of texts, or an iterator of chunks of one (a CSV read with ``chunksize``).

    For chunks the result is lazy: each chunk is scored (its progress logged) when the
    ``predictions`` dataset writes it, so a file larger than memory streams through, and the
    dataset publishes the file only once the last chunk is written
    (:class:`~sentiment_mlops.datasets.chunked_csv_dataset.ChunkedCSVDataset`).
    """
    if isinstance(instances, pd.DataFrame):
        return predict_sentiment(sentiment_model, instances)
    return _scored_chunks(sentiment_model, instances)


def _scored_chunks(sentiment_model: Any, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    scored = 0
    for number, chunk in enumerate(chunks, start=1):
        table = scored_table(sentiment_model, chunk)
        scored += len(table)
        logger.info("Scored chunk %d (%d rows, %d so far)", number, len(table), scored)
        yield table
