"""Unit tests of the data_processing nodes: empty texts, cleaning, dedupe, split."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from sentiment_mlops.pipelines.data_processing.nodes import (
    clean_texts,
    drop_duplicate_texts,
    drop_empty_texts,
    split_dataset,
)

SPLIT = {"test_size": 0.2, "validation_size": 0.1, "random_state": 42}


@pytest.mark.unit
def test_empty_texts_are_dropped_and_counted(caplog):
    canonical = pd.DataFrame({"text": ["ok", "", "   ", None, "fine"], "label": ["positive"] * 5})
    canonical["text"] = canonical["text"].astype("string")
    with caplog.at_level(logging.WARNING):
        kept = drop_empty_texts(canonical)
    assert kept["text"].tolist() == ["ok", "fine"]
    assert "Dropped 3 empty or whitespace-only texts of 5" in caplog.text


@pytest.mark.unit
def test_clean_texts_adds_clean_column_with_the_shared_cleaner():
    canonical = pd.DataFrame({"text": ["@united Not GOOD!!! http://t.co/x"]})
    cleaned = clean_texts(canonical, {"remove_stopwords": True})
    assert cleaned["clean_text"].tolist() == [
        "usertoken not good exclmark exclmark exclmark urltoken"
    ]
    assert "clean_text" not in canonical.columns


def _cleaned(texts, labels, origin=None):
    frame = pd.DataFrame({"text": texts, "label": labels, "source": "test"})
    frame["origin_split"] = origin or ["train"] * len(texts)
    return clean_texts(frame, {})


@pytest.mark.unit
def test_duplicates_are_judged_on_cleaned_text_and_official_validation_wins():
    cleaned = _cleaned(
        ["Great flight.", "great flight", "@bob great flight", "@user great flight", "...;"],
        ["positive", "positive", "positive", "positive", "neutral"],
        ["train", "train", "train", "validation", "train"],
    )
    deduplicated = drop_duplicate_texts(cleaned)
    # "@bob ..." and "@user ..." clean to the same text; the validation copy is kept;
    # "...;" cleans to nothing and goes ("!" and "?" would not: they become tokens).
    assert deduplicated["text"].tolist() == ["Great flight.", "@user great flight"]
    assert deduplicated["origin_split"].tolist() == ["train", "validation"]


@pytest.mark.integration
def test_no_text_lands_in_two_splits_when_data_has_duplicates(airline_canonical):
    duplicated = pd.concat([airline_canonical, airline_canonical.head(300)], ignore_index=True)
    cleaned = clean_texts(drop_empty_texts(duplicated), {})
    train, validation, test = split_dataset(drop_duplicate_texts(cleaned), SPLIT)
    sets = [set(part["clean_text"]) for part in (train, validation, test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(train) + len(validation) + len(test)


@pytest.mark.integration
def test_split_is_stratified_sized_and_seeded(airline_canonical):
    table = drop_duplicate_texts(clean_texts(airline_canonical, {}))
    train, validation, test = split_dataset(table, SPLIT)
    total = len(table)
    assert abs(len(test) - 0.2 * total) <= 1 and abs(len(validation) - 0.1 * total) <= 1
    overall = table["label"].value_counts(normalize=True)
    for part in (train, validation, test):
        shares = part["label"].value_counts(normalize=True)
        assert (shares - overall).abs().max() < 0.02
    again = split_dataset(table, SPLIT)
    pd.testing.assert_frame_equal(test, again[2])
    other_seed = split_dataset(table, {**SPLIT, "random_state": 7})
    assert set(other_seed[2]["text"]) != set(test["text"])


@pytest.mark.unit
def test_official_validation_split_is_kept_and_test_comes_from_the_rest():
    cleaned = _cleaned(
        [f"text number {i}" for i in range(40)],
        ["positive", "negative"] * 20,
        ["validation"] * 6 + ["train"] * 34,
    )
    train, validation, test = split_dataset(drop_duplicate_texts(cleaned), SPLIT)
    assert sorted(validation["text"]) == sorted(f"text number {i}" for i in range(6))
    assert len(train) + len(test) == 34 and len(test) == 7
