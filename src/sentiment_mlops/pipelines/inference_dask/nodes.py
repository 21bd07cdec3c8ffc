"""Nodes of batch scoring on Dask.

The node builds lazy Dask graphs; the partitions are read, checked and scored when its
outputs are saved, on the run's Dask client (started by
:class:`~sentiment_mlops.hooks.DaskClientHook`). Each partition is scored by the same function
as a chunk of the pandas inference pipeline, so both give the same numbers.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from sentiment_mlops.pipelines.inference.nodes import TEXT_COLUMN, scored_table
from sentiment_mlops.prediction import prediction_frame

REJECT_REASON = "reject_reason"
# The written text columns (texts, labels, reasons) are Arrow strings: Dask cannot infer a
# Parquet type from a column declared as Python objects.
TEXT_DTYPE = pd.StringDtype("pyarrow")


def _reject_reason(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value.strip() else "blank"
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "missing"
    return f"not a string ({type(value).__name__})"


def reject_reasons(texts: pd.Series) -> pd.Series:
    """Why each text cannot be scored (``missing``, ``blank``, ``not a string (int)``), or
    ``<NA>`` for a text that can: the API refuses the same texts."""
    return pd.Series(
        [_reject_reason(value) for value in texts], index=texts.index, dtype=TEXT_DTYPE
    )


def _printable(texts: pd.Series) -> pd.Series:
    # A rejected value that is not a string is kept as its text, so that one Parquet column
    # holds them all (Parquet has no mixed-type column).
    return pd.Series(
        [
            value if isinstance(value, str) or _reject_reason(value) == "missing" else str(value)
            for value in texts
        ],
        index=texts.index,
        dtype=TEXT_DTYPE,
    )


def split_rejects(instances: dd.DataFrame) -> tuple[dd.DataFrame, dd.DataFrame]:
    """The rows that can be scored, and the others with their ``reject_reason``.

    A bad row never fails the job and is never dropped silently: it goes to the rejects.
    """
    if TEXT_COLUMN not in instances.columns:
        raise ValueError(
            f"Instances need a {TEXT_COLUMN!r} column of raw texts; got columns "
            f"{list(instances.columns)}. Rename the text column to {TEXT_COLUMN!r}."
        )
    reasons = instances[TEXT_COLUMN].map_partitions(
        reject_reasons, meta=pd.Series([], name=REJECT_REASON, dtype=TEXT_DTYPE)
    )
    checked = instances.assign(**{REJECT_REASON: reasons})
    scorable = checked[checked[REJECT_REASON].isnull()].drop(columns=REJECT_REASON)
    rejected = checked[checked[REJECT_REASON].notnull()]
    rejected = rejected.assign(
        **{
            TEXT_COLUMN: rejected[TEXT_COLUMN].map_partitions(
                _printable, meta=pd.Series([], name=TEXT_COLUMN, dtype=TEXT_DTYPE)
            )
        }
    )
    return scorable, rejected


def _score_partition(partition: pd.DataFrame, sentiment_model: Any) -> pd.DataFrame:
    if partition.empty:  # every row of the partition was rejected
        return _empty_predictions(sentiment_model, partition)
    return _as_arrow_strings(scored_table(sentiment_model, partition))


def _empty_predictions(sentiment_model: Any, instances: pd.DataFrame) -> pd.DataFrame:
    classes = sentiment_model.classes_
    empty = prediction_frame(np.empty((0, len(classes))), classes)
    empty.index = instances.index[:0]
    return _as_arrow_strings(pd.concat([instances[[TEXT_COLUMN]].iloc[:0], empty], axis=1))


def _as_arrow_strings(table: pd.DataFrame) -> pd.DataFrame:
    return table.astype({TEXT_COLUMN: TEXT_DTYPE, "label": TEXT_DTYPE})


def score_partitions(
    sentiment_model: Any, instances: dd.DataFrame
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """The predictions of every scorable row (``text``, ``label``, ``confidence``, one
    probability per class: the pandas inference pipeline's table), and the rejected rows.

    The model is one key of the graph: each worker receives and unpickles it once, whatever
    the number of partitions it scores.
    """
    scorable, rejected = split_rejects(instances)
    model = dask.delayed(sentiment_model, pure=False)
    meta = _empty_predictions(sentiment_model, scorable._meta)
    return scorable.map_partitions(_score_partition, model, meta=meta), rejected
