"""Nodes of the feedback pipeline: feedback labels joined with the texts the service logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from sentiment_mlops.api.prediction_log import hour_partition, prediction_time
from sentiment_mlops.pipelines.monitoring.nodes import latest_feedback

logger = logging.getLogger(__name__)

FEEDBACK_SOURCE = "feedback"


def _partition_hour(partition_id: str) -> str:
    """``date=.../hour=..`` of a partition id ``date=.../hour=../part-...``."""
    return partition_id.rsplit("/", 1)[0]


def labelled_feedback(
    prediction_feedback: dict[str, Callable[[], pd.DataFrame]],
    prediction_log: dict[str, Callable[[], pd.DataFrame]],
) -> pd.DataFrame:
    """The canonical table (``text``, ``label``, ``source``) of every feedback label: the
    text the service logged for the prediction, the label the user said was right.

    Only the log's hours that hold a feedback's prediction are read (an id names its hour).
    Feedback whose text was not logged (``SENTIMENT_LOG_TEXT=false``, or a removed log) cannot
    be learned from: it is counted and left out.
    """
    feedback = latest_feedback(prediction_feedback)
    if feedback.empty:
        raise ValueError(
            "No feedback labels were found in the catalog's prediction_feedback folder: "
            "nothing to learn from. Send some with POST /feedback, or check that "
            "SENTIMENT_FEEDBACK_DIR of the service is where prediction_feedback points."
        )
    hours = {hour_partition(prediction_time(value)) for value in feedback["prediction_id"]}
    parts = [load() for key, load in prediction_log.items() if _partition_hour(key) in hours]
    columns = ["prediction_id", "text"]
    logged = (
        pd.concat([part[columns] for part in parts]) if parts else pd.DataFrame(columns=columns)
    )
    joined = feedback.merge(logged.drop_duplicates("prediction_id"), on="prediction_id", how="left")
    usable = joined["text"].notna()
    if not usable.all():
        logger.warning(
            "%d of %d feedback labels have no logged text (text logging off, or the log was "
            "removed): they are not used for training",
            (~usable).sum(),
            len(joined),
        )
    logger.info("%d feedback labels with their texts", usable.sum())
    table = joined.loc[usable, ["text", "label"]].reset_index(drop=True)
    return table.assign(source=FEEDBACK_SOURCE)
