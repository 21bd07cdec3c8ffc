"""Each of the five sources loads from the mirror through the real catalog as its canonical table.

Expected class counts are the ones PROVENANCE.md documents for each file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import raw_source_files

pytestmark = pytest.mark.integration

EXPECTED_COUNTS = {
    "airline": {"negative": 9178, "neutral": 3099, "positive": 2363},
    "imdb": {"negative": 19687, "positive": 19895},
    "amazon_alexa": {"negative": 257, "neutral": 152, "positive": 2741},
    "uci": {"negative": 1500, "positive": 1500},
}
TWEETEVAL_VALIDATION_COUNTS = {"negative": 312, "neutral": 869, "positive": 819}


def _canonical(project_root: Path, source: str):
    bootstrap_project(project_root)
    with KedroSession.create(project_root, runtime_params={"source": source}) as session:
        return session.load_context().catalog.load("raw_texts")


@pytest.mark.parametrize("source", sorted(EXPECTED_COUNTS))
def test_source_maps_to_documented_class_counts(project_root, source):
    canonical = _canonical(project_root, source)
    assert list(canonical.columns) == ["text", "label", "source", "origin_split"]
    assert (canonical["source"] == source).all()
    assert canonical["label"].value_counts().to_dict() == EXPECTED_COUNTS[source]


def test_semeval_keeps_tweeteval_validation_apart(project_root):
    canonical = _canonical(project_root, "semeval")
    validation = canonical[canonical["origin_split"] == "validation"]
    training = canonical[canonical["origin_split"] == "train"]
    assert validation["label"].value_counts().to_dict() == TWEETEVAL_VALIDATION_COUNTS
    lines = sum(
        1
        for path in raw_source_files("semeval")
        for line in path.read_text(encoding="utf-8").split("\n")
        if line.strip()
    )
    assert len(training) == lines
    assert set(training["label"]) == {"negative", "neutral", "positive"}
    # JSON escapes kept literally by the 2013 files are decoded.
    assert not training["text"].str.contains(r"\\u2019", regex=False).any()
