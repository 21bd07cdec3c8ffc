"""``SentimentSourceDataset``: one declaration per source, mapped onto the canonical table.

Small sources written to a temporary raw directory: no mirror, no network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DatasetError

from sentiment_mlops.datasets.sentiment_source_dataset import (
    DataValidationError,
    SentimentSourceDataset,
    SourceSpec,
    canonical_table,
)

pytestmark = pytest.mark.unit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF = PROJECT_ROOT / "conf" / "base"
REVIEWS = b"review,stars\ngreat value,5\nbroke in a day,1\nit is fine,3\n"
REVIEWS_SOURCE = {
    "reader": "csv",
    "files": [{"path": "reviews/reviews.csv", "sha256": hashlib.sha256(REVIEWS).hexdigest()}],
    "text_column": "review",
    "label_column": "stars",
    "label_map": {"1": "negative", "3": "neutral", "5": "positive"},
}
ALEXA = SourceSpec.from_config(
    "amazon_alexa",
    {
        **REVIEWS_SOURCE,
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
)


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "reviews.csv").write_bytes(REVIEWS)
    return tmp_path


def test_a_new_source_is_one_block_and_loads_as_the_canonical_table(raw_dir):
    dataset = SentimentSourceDataset(
        source="reviews", sources={"reviews": REVIEWS_SOURCE}, raw_dir=str(raw_dir)
    )
    table = dataset.load()
    assert table.to_dict("list") == {
        "text": ["great value", "broke in a day", "it is fine"],
        "label": ["positive", "negative", "neutral"],
        "source": ["reviews"] * 3,
        "origin_split": ["train"] * 3,
    }


def test_every_source_is_declared_once_in_the_catalog_and_nowhere_else():
    catalog = yaml.safe_load((CONF / "catalog.yml").read_text())
    declared = catalog["_sources"]
    assert sorted(declared) == ["airline", "amazon_alexa", "imdb", "semeval", "uci"]
    for name, block in declared.items():
        spec = SourceSpec.from_config(name, block)  # complete and well-formed
        assert spec.files and spec.label_map
    assert catalog["raw_texts"]["sources"] == "${_sources}"
    for parameters in CONF.glob("parameters*.yml"):
        keys = set(yaml.safe_load(parameters.read_text()) or {})
        assert not keys & (set(declared) | {"sources"}), parameters.name


def test_unknown_source_names_the_choices():
    with pytest.raises(
        DataValidationError, match=r"Unknown source 'tweets'. Choose one of \['reviews'\]"
    ):
        SentimentSourceDataset(source="tweets", sources={"reviews": REVIEWS_SOURCE})


def test_incomplete_or_misspelled_block_names_the_keys():
    block = {key: value for key, value in REVIEWS_SOURCE.items() if key != "label_map"}
    with pytest.raises(
        DataValidationError,
        match=r"Source 'reviews' under _sources in catalog.yml: missing \['label_map'\]; "
        r"unknown \['labelmap'\]",
    ):
        SourceSpec.from_config("reviews", {**block, "labelmap": {}})


def test_unknown_reader_names_the_readers():
    with pytest.raises(DataValidationError, match=r"unknown reader 'xml'; choose one of \['csv'"):
        SourceSpec.from_config("reviews", {**REVIEWS_SOURCE, "reader": "xml"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"verified_reviews": ["a", "b", "c"], "rating": [1, 3, 5]},
            ["negative", "neutral", "positive"],
        ),
        ({"verified_reviews": ["a", "b"], "rating": ["4", " 2 "]}, ["positive", "negative"]),
    ],
)
def test_labels_map_onto_canonical_classes(raw, expected):
    canonical = canonical_table(pd.DataFrame(raw), ALEXA)
    assert canonical["label"].tolist() == expected
    assert (canonical["source"] == "amazon_alexa").all()


def test_missing_column_names_dataset_column_and_what_exists():
    raw = pd.DataFrame({"review": ["a"], "rating": [5]})
    with pytest.raises(
        DataValidationError,
        match=r"Dataset 'amazon_alexa': missing column\(s\) \['verified_reviews'\]; "
        r"it has \['review', 'rating'\]",
    ):
        canonical_table(raw, ALEXA)


def test_empty_table_is_refused():
    raw = pd.DataFrame({"verified_reviews": [], "rating": []})
    with pytest.raises(DataValidationError, match="Dataset 'amazon_alexa' is empty"):
        canonical_table(raw, ALEXA)


def test_labels_outside_mapping_name_dataset_column_and_count():
    raw = pd.DataFrame({"verified_reviews": ["a", "b", "c", "d"], "rating": [5, 6, 6, None]})
    with pytest.raises(DataValidationError) as error:
        canonical_table(raw, ALEXA)
    message = str(error.value)
    # The missing rating makes the column float; 5.0 still maps, 6.0 reads as "6".
    assert "Dataset 'amazon_alexa', column 'rating': 3 row(s)" in message
    assert "['6', '<missing>']" in message


def test_input_frame_is_not_mutated():
    raw = pd.DataFrame({"verified_reviews": ["a"], "rating": [3]})
    before = raw.copy()
    canonical_table(raw, ALEXA)
    pd.testing.assert_frame_equal(raw, before)


def test_dataset_is_read_only():
    dataset = SentimentSourceDataset(source="reviews", sources={"reviews": REVIEWS_SOURCE})
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(pd.DataFrame())
