"""Cleaning a large table logs its progress and cleans exactly as the TextCleaner does."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from sentiment_mlops.pipelines.data_processing import nodes
from sentiment_mlops.text_cleaning import TextCleaner

pytestmark = pytest.mark.unit

TEXTS = [f"@user I don't like flight {index} :( http://t.co/x" for index in range(25)]


def test_clean_texts_logs_progress_in_steps(monkeypatch, caplog):
    monkeypatch.setattr(nodes, "PROGRESS_MIN_TEXTS", 20)
    canonical = pd.DataFrame({"text": TEXTS, "label": "negative"})
    with caplog.at_level(logging.INFO, logger=nodes.__name__):
        cleaned = nodes.clean_texts(canonical, {})
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Cleaned ")]
    assert len(progress) == nodes.PROGRESS_STEPS - 1  # 25 texts in steps of 3: 9 steps
    assert progress[0] == "Cleaned 3 of 25 texts (12%)"
    assert progress[-1] == "Cleaned 25 of 25 texts (100%)"
    assert cleaned["clean_text"].tolist() == TextCleaner().transform(TEXTS).tolist()
    assert "clean_text" not in canonical  # the input is not mutated


def test_clean_texts_stays_quiet_for_small_tables(caplog):
    canonical = pd.DataFrame({"text": TEXTS, "label": "negative"})
    with caplog.at_level(logging.INFO, logger=nodes.__name__):
        cleaned = nodes.clean_texts(canonical, {})
    assert not [r for r in caplog.records if r.getMessage().startswith("Cleaned ")]
    assert cleaned["clean_text"].tolist() == TextCleaner().transform(TEXTS).tolist()
