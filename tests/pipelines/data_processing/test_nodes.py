"""Unit tests of the data_processing nodes: mapping, validation, cleaning, dedupe, split."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from sentiment_mlops.pipelines.data_processing.nodes import (
    DataValidationError,
    build_canonical_table,
    clean_texts,
    drop_duplicate_texts,
    drop_empty_texts,
    select_source_spec,
    split_dataset,
)

SOURCES = {
    "airline": {
        "text_column": "text",
        "label_column": "airline_sentiment",
        "label_map": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
    },
    "amazon_alexa": {
        "text_column": "verified_reviews",
        "label_column": "rating",
        "label_map": {
            "1": "negative",
            "2": "negative",
            "3": "neutral",
            "4": "positive",
            "5": "positive",
        },
    },
    "uci": {
        "text_column": "sentence",
        "label_column": "label",
        "label_map": {"0": "negative", "1": "positive"},
    },
}
SPLIT = {"test_size": 0.2, "validation_size": 0.1, "random_state": 42}


def test_unknown_source_names_the_choices():
    with pytest.raises(
        DataValidationError, match=r"Unknown source 'tweets'.*\['airline', 'amazon_alexa', 'uci'\]"
    ):
        select_source_spec("tweets", SOURCES)


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        (
            "airline",
            {"text": ["a", "b"], "airline_sentiment": ["neutral", "positive"]},
            ["neutral", "positive"],
        ),
        (
            "amazon_alexa",
            {"verified_reviews": ["a", "b", "c"], "rating": [1, 3, 5]},
            ["negative", "neutral", "positive"],
        ),
        ("uci", {"sentence": ["a", "b"], "label": [0, 1]}, ["negative", "positive"]),
    ],
)
def test_labels_map_onto_canonical_classes(source, raw, expected):
    canonical = build_canonical_table(pd.DataFrame(raw), select_source_spec(source, SOURCES))
    assert canonical["label"].tolist() == expected
    assert (canonical["source"] == source).all()


def test_missing_column_names_dataset_column_and_what_exists():
    raw = pd.DataFrame({"tweet": ["a"], "airline_sentiment": ["neutral"]})
    with pytest.raises(
        DataValidationError,
        match=r"Dataset 'airline': missing column\(s\) \['text'\]; it has \['tweet', 'airline_sentiment'\]",
    ):
        build_canonical_table(raw, select_source_spec("airline", SOURCES))


def test_empty_table_is_refused():
    raw = pd.DataFrame({"text": [], "airline_sentiment": []})
    with pytest.raises(DataValidationError, match="Dataset 'airline' is empty"):
        build_canonical_table(raw, select_source_spec("airline", SOURCES))


def test_labels_outside_mapping_name_dataset_column_and_count():
    raw = pd.DataFrame({"verified_reviews": ["a", "b", "c", "d"], "rating": [5, 6, 6, None]})
    with pytest.raises(DataValidationError) as error:
        build_canonical_table(raw, select_source_spec("amazon_alexa", SOURCES))
    message = str(error.value)
    # The missing rating makes the column float; 5.0 still maps, 6.0 reads as "6".
    assert "Dataset 'amazon_alexa', column 'rating': 3 row(s)" in message
    assert "['6', '<missing>']" in message


def test_input_frame_is_not_mutated():
    raw = pd.DataFrame({"text": ["a"], "airline_sentiment": ["neutral"]})
    before = raw.copy()
    build_canonical_table(raw, select_source_spec("airline", SOURCES))
    pd.testing.assert_frame_equal(raw, before)


def test_empty_texts_are_dropped_and_counted(caplog):
    canonical = pd.DataFrame({"text": ["ok", "", "   ", None, "fine"], "label": ["positive"] * 5})
    canonical["text"] = canonical["text"].astype("string")
    with caplog.at_level(logging.WARNING):
        kept = drop_empty_texts(canonical)
    assert kept["text"].tolist() == ["ok", "fine"]
    assert "Dropped 3 empty or whitespace-only texts of 5" in caplog.text


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


def test_no_text_lands_in_two_splits_when_data_has_duplicates(airline_sample):
    source = select_source_spec("airline", SOURCES)
    duplicated = pd.concat([airline_sample, airline_sample.head(300)], ignore_index=True)
    cleaned = clean_texts(drop_empty_texts(build_canonical_table(duplicated, source)), {})
    train, validation, test = split_dataset(drop_duplicate_texts(cleaned), SPLIT)
    sets = [set(part["clean_text"]) for part in (train, validation, test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(train) + len(validation) + len(test)


def test_split_is_stratified_sized_and_seeded(airline_sample):
    source = select_source_spec("airline", SOURCES)
    table = drop_duplicate_texts(clean_texts(build_canonical_table(airline_sample, source), {}))
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


def test_official_validation_split_is_kept_and_test_comes_from_the_rest():
    cleaned = _cleaned(
        [f"text number {i}" for i in range(40)],
        ["positive", "negative"] * 20,
        ["validation"] * 6 + ["train"] * 34,
    )
    train, validation, test = split_dataset(drop_duplicate_texts(cleaned), SPLIT)
    assert sorted(validation["text"]) == sorted(f"text number {i}" for i in range(6))
    assert len(train) + len(test) == 34 and len(test) == 7
