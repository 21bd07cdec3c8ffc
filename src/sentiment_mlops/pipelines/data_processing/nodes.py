"""Nodes of the data_processing pipeline: pure functions over DataFrames, no I/O."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sentiment_mlops.datasets.sentiment_source_dataset import ORIGIN_SPLIT_COLUMN
from sentiment_mlops.text_cleaning import TextCleaner

logger = logging.getLogger(__name__)

# Cleaning logs its progress in PROGRESS_STEPS steps for tables of at least this many texts.
PROGRESS_MIN_TEXTS = 10_000
PROGRESS_STEPS = 10


def drop_empty_texts(canonical: pd.DataFrame) -> pd.DataFrame:
    """Drop rows whose text is missing or only whitespace, and log how many went."""
    empty = canonical["text"].isna() | (canonical["text"].str.strip() == "")
    if empty.any():
        logger.warning(
            "Dropped %d empty or whitespace-only texts of %d", empty.sum(), len(canonical)
        )
    return canonical.loc[~empty].reset_index(drop=True)


def clean_texts(canonical: pd.DataFrame, cleaning: dict[str, Any]) -> pd.DataFrame:
    """Add ``clean_text``: the output of the same ``TextCleaner`` that inference uses.

    Large sources take minutes (IMDb reviews are long), so progress is logged every 10 %
    from ``PROGRESS_MIN_TEXTS`` texts on.
    """
    cleaner = TextCleaner(**cleaning)
    texts = canonical["text"].tolist()
    if len(texts) < PROGRESS_MIN_TEXTS:
        return canonical.assign(clean_text=cleaner.transform(texts))
    step = math.ceil(len(texts) / PROGRESS_STEPS)
    cleaned: list[str] = []
    for start in range(0, len(texts), step):
        cleaned.extend(cleaner.transform(texts[start : start + step]))
        logger.info(
            "Cleaned %d of %d texts (%d%%)",
            len(cleaned),
            len(texts),
            100 * len(cleaned) // len(texts),
        )
    return canonical.assign(clean_text=np.array(cleaned, dtype=object))


def drop_duplicate_texts(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Keep one row per cleaned text, so no text can land in two splits.

    Rows from a source's official validation split win over training rows, and texts
    that clean to nothing (only punctuation, say) are dropped: they carry no signal.
    """
    empty = cleaned["clean_text"].str.strip() == ""
    ordered = cleaned.loc[~empty].sort_values(ORIGIN_SPLIT_COLUMN, ascending=False, kind="stable")
    deduplicated = ordered.drop_duplicates("clean_text", keep="first").sort_index()
    logger.info(
        "Dropped %d texts that clean to nothing and %d duplicate texts; %d rows remain",
        empty.sum(),
        len(ordered) - len(deduplicated),
        len(deduplicated),
    )
    return deduplicated.reset_index(drop=True)


def split_dataset(
    deduplicated: pd.DataFrame, split: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stratified train / validation / test split, seeded by ``split.random_state``.

    A source with an official validation split keeps it; the test split is carved from
    the remaining rows.
    """
    official = deduplicated[ORIGIN_SPLIT_COLUMN] == "validation"
    pool = deduplicated.loc[~official]
    seed = split["random_state"]
    rest, test = train_test_split(
        pool, test_size=split["test_size"], stratify=pool["label"], random_state=seed
    )
    if official.any():
        train, validation = rest, deduplicated.loc[official]
    else:
        validation_share = split["validation_size"] / (1 - split["test_size"])
        train, validation = train_test_split(
            rest, test_size=validation_share, stratify=rest["label"], random_state=seed
        )
    columns = ["text", "clean_text", "label", "source"]
    return tuple(part[columns].reset_index(drop=True) for part in (train, validation, test))


def add_feedback_to_training(
    source_train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    feedback_texts: pd.DataFrame,
    cleaning: dict[str, Any],
) -> pd.DataFrame:
    """The source's training split plus the feedback texts, cleaned the same way.

    Feedback never reaches validation or test, so the no-regression promotion compares
    versions on the same test data; a feedback text that cleans to one already in a split is
    left out (a held-out one would leak into training, a training one is already there).
    Labels the source does not have stop the run: the model's classes would change.
    """
    unknown = sorted(set(feedback_texts["label"]) - set(source_train["label"]))
    if unknown:
        raise ValueError(
            f"Feedback has labels {unknown} that the source's training split lacks "
            f"({sorted(source_train['label'].unique())}); feedback for another source's "
            "classes cannot be added. Retrain on a source with these classes."
        )
    cleaned = clean_texts(drop_empty_texts(feedback_texts), cleaning)
    cleaned = cleaned.drop_duplicates("clean_text", keep="last")  # the latest label wins
    known = pd.concat([source_train["clean_text"], validation["clean_text"], test["clean_text"]])
    fresh = cleaned.loc[
        ~cleaned["clean_text"].isin(known) & (cleaned["clean_text"].str.strip() != "")
    ]
    logger.info(
        "Added %d feedback texts to the %d training texts (%d were already in a split or "
        "clean to nothing)",
        len(fresh),
        len(source_train),
        len(feedback_texts) - len(fresh),
    )
    return pd.concat([source_train, fresh[source_train.columns]], ignore_index=True)
