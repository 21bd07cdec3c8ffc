"""Unit tests of the inference nodes and the chunked CSV dataset, on a small fitted model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sentiment_mlops.datasets.chunked_csv_dataset import ChunkedCSVDataset
from sentiment_mlops.pipelines.inference.nodes import predict_sentiment, score_instances
from sentiment_mlops.text_cleaning import TextCleaner

pytestmark = pytest.mark.unit

TEXTS = ["great crew thanks", "awful delay", "lost my bag, awful", "thanks, lovely flight", "ok"]
LABELS = ["positive", "negative", "negative", "positive", "neutral"]


@pytest.fixture(scope="module")
def model() -> Pipeline:
    return Pipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", TfidfVectorizer()),
            ("classifier", LogisticRegression()),
        ]
    ).fit(np.array(TEXTS, dtype=object), LABELS)


def test_predict_sentiment_matches_the_model_and_keeps_the_index(model):
    instances = pd.DataFrame({"text": TEXTS}, index=[10, 11, 12, 13, 14])
    predictions = predict_sentiment(model, instances)
    probabilities = model.predict_proba(np.array(TEXTS, dtype=object))
    assert list(predictions.columns) == ["label", "confidence", "negative", "neutral", "positive"]
    assert list(predictions.index) == [10, 11, 12, 13, 14]
    np.testing.assert_array_equal(predictions[["negative", "neutral", "positive"]], probabilities)
    assert list(predictions["label"]) == list(model.predict(np.array(TEXTS, dtype=object)))


def test_predict_sentiment_refuses_a_table_without_text(model):
    with pytest.raises(ValueError, match="need a 'text' column.*got columns \\['tweet'\\]"):
        predict_sentiment(model, pd.DataFrame({"tweet": ["hi"]}))


def test_predict_sentiment_names_rows_without_text(model):
    with pytest.raises(ValueError, match=r"1 instance\(s\) have no text \(index \[1\]\)"):
        predict_sentiment(model, pd.DataFrame({"text": ["hi", None]}))


def test_score_instances_returns_the_predictions_of_a_table(model):
    predictions = score_instances(model, pd.DataFrame({"text": TEXTS}))
    assert isinstance(predictions, pd.DataFrame)
    assert list(predictions.columns) == ["label", "confidence", "negative", "neutral", "positive"]


def test_score_instances_scores_chunks_lazily_with_their_text(model, caplog):
    chunks = [pd.DataFrame({"text": TEXTS[:3]}), pd.DataFrame({"text": TEXTS[3:]}, index=[3, 4])]
    caplog.set_level("INFO")
    scored = score_instances(model, iter(chunks))
    assert "Scored chunk" not in caplog.text  # nothing is scored before it is written
    frames = list(scored)
    assert [len(frame) for frame in frames] == [3, 2]
    assert list(pd.concat(frames)["text"]) == TEXTS
    assert "Scored chunk 2 (2 rows, 5 so far)" in caplog.text


def test_chunked_csv_writes_chunks_under_one_header(tmp_path):
    path = tmp_path / "predictions.csv"
    ChunkedCSVDataset(filepath=str(path)).save(
        iter([pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3]})])
    )
    assert path.read_text().splitlines() == ["a", "1", "2", "3"]
    ChunkedCSVDataset(filepath=str(path)).save(pd.DataFrame({"a": [9]}))  # a table, a new run
    assert path.read_text().splitlines() == ["a", "9"]


def test_a_failure_mid_write_leaves_the_previous_file_and_no_partial_one(tmp_path):
    path = tmp_path / "predictions.csv"
    dataset = ChunkedCSVDataset(filepath=str(path))
    dataset.save(pd.DataFrame({"a": [1, 2, 3]}))
    before = path.read_bytes()

    def chunks_then_a_fault():
        yield pd.DataFrame({"a": [7]})
        yield pd.DataFrame({"a": [8]})
        raise OSError("the store went away")

    with pytest.raises(DatasetError, match="the store went away"):
        dataset.save(chunks_then_a_fault())
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["predictions.csv"]
