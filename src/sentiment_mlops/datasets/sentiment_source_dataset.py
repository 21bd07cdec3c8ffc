"""``SentimentSourceDataset``: one public sentiment source, read with the parser its format needs.

Each source is a catalog entry that lists its files (path, sha256, pinned URL) and names a
reader. The readers exist because the sources disagree on format in ways that matter:
SemEval lines must be split on the first two tabs only (its texts hold stray quotes), UCI
needs ``QUOTE_NONE``, TweetEval keeps text and labels in two line-aligned files.

The dataset is read-only: raw data is never written by a pipeline.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from sentiment_mlops.datasets.raw_files import (
    RawFile,
    fetch_remote_raw_file,
    is_remote,
    resolve_raw_file,
)

ORIGIN_SPLIT_COLUMN = "origin_split"
# The SemEval 2013 files keep JSON escapes such as "\\u2019" and "\\u002c" literally.
_JSON_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")


def read_csv(paths: list[Path], load_args: dict[str, Any]) -> pd.DataFrame:
    """Any delimited file pandas can parse; ``load_args`` go to ``pandas.read_csv``."""
    frames = [pd.read_csv(path, **load_args) for path in paths]
    return pd.concat(frames, ignore_index=True)


def read_semeval_tsv(paths: list[Path], load_args: dict[str, Any]) -> pd.DataFrame:
    """SemEval Task 4A: ``id<TAB>label<TAB>text`` lines, some with a trailing tab."""
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line_number, raw_line in enumerate(handle, start=1):
                line = raw_line.rstrip("\r\n")
                if not line.strip():
                    continue
                parts = line.split("\t", 2)
                if len(parts) != 3:
                    raise DatasetError(
                        f"{path}:{line_number}: expected 'id<TAB>label<TAB>text', got {line[:80]!r}"
                    )
                tweet_id, label, text = parts
                text = _JSON_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text.rstrip("\t"))
                rows.append((tweet_id, label, text, path.name))
    return pd.DataFrame(rows, columns=["tweet_id", "label", "text", "file"])


def read_tweeteval(paths: list[Path], load_args: dict[str, Any]) -> pd.DataFrame:
    """TweetEval: ``[text file, labels file, mapping.txt]``, one tweet per line."""
    if len(paths) != 3:
        raise DatasetError(f"The tweeteval reader takes [text, labels, mapping] files, got {paths}")
    text_path, labels_path, mapping_path = paths
    # Split on "\n" only: str.splitlines() also breaks on U+0085 and friends inside tweets.
    texts = text_path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    labels = labels_path.read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise DatasetError(
            f"{text_path} has {len(texts)} lines but {labels_path} has {len(labels)} labels"
        )
    mapping = dict(line.split("\t", 1) for line in mapping_path.read_text().split("\n") if line)
    return pd.DataFrame({"text": texts, "label": [mapping[label].strip() for label in labels]})


READERS: dict[str, Callable[[list[Path], dict[str, Any]], pd.DataFrame]] = {
    "csv": read_csv,
    "semeval_tsv": read_semeval_tsv,
    "tweeteval": read_tweeteval,
}


class SentimentSourceDataset(AbstractDataset[None, pd.DataFrame]):
    """Loads a sentiment source from ``data/01_raw``, a mirror, or its pinned public URL.

    ``raw_dir`` may also be a URL such as ``s3://bucket/prefix/01_raw``: the files are then
    read from there only (still checked against their sha256).

    Example catalog entry::

        raw_airline:
          type: sentiment_mlops.datasets.SentimentSourceDataset
          reader: csv
          files:
            - path: twitter_airline_sentiment/Tweets.csv
              sha256: ea94b23f...
              url: https://raw.githubusercontent.com/<owner>/<repo>/<commit>/Kaggle_Tweets.csv

    ``validation_files`` (optional, same shape, with their own ``validation_reader``) are
    rows the source's authors set aside for validation; they come back with
    ``origin_split == "validation"`` so the split node can keep them there.
    """

    def __init__(  # noqa: PLR0913 - mirrors the catalog entry
        self,
        *,
        reader: str,
        files: list[dict[str, Any]],
        load_args: dict[str, Any] | None = None,
        validation_files: list[dict[str, Any]] | None = None,
        validation_reader: str | None = None,
        raw_dir: str = "data/01_raw",
        metadata: dict[str, Any] | None = None,
    ):
        for name in (reader, validation_reader):
            if name is not None and name not in READERS:
                raise DatasetError(f"Unknown reader '{name}'; choose one of {sorted(READERS)}")
        if not files:
            raise DatasetError("A SentimentSourceDataset needs at least one entry in 'files'")
        self._reader = reader
        self._files = [RawFile(**spec) for spec in files]
        self._load_args = dict(load_args or {})
        self._validation_files = [RawFile(**spec) for spec in validation_files or []]
        self._validation_reader = validation_reader or reader
        self._raw_dir = raw_dir
        self.metadata = metadata

    def _read(self, reader: str, files: list[RawFile]) -> pd.DataFrame:
        load_args = self._load_args if reader == self._reader else {}
        if is_remote(self._raw_dir):
            # Remote raw data (s3://...) is copied to a temporary directory only for parsing.
            with tempfile.TemporaryDirectory(prefix="sentiment-raw-") as tmp:
                paths = [fetch_remote_raw_file(raw, self._raw_dir, tmp) for raw in files]
                return READERS[reader](paths, load_args)
        paths = [resolve_raw_file(raw_file, self._raw_dir) for raw_file in files]
        return READERS[reader](paths, load_args)

    def load(self) -> pd.DataFrame:
        """Resolve, verify and parse every file; validation rows are marked as such."""
        data = self._read(self._reader, self._files).assign(**{ORIGIN_SPLIT_COLUMN: "train"})
        if self._validation_files:
            validation = self._read(self._validation_reader, self._validation_files)
            data = pd.concat(
                [data, validation.assign(**{ORIGIN_SPLIT_COLUMN: "validation"})],
                ignore_index=True,
            )
        return data

    def save(self, data: pd.DataFrame) -> None:
        """Raw sources are read-only."""
        raise DatasetError("SentimentSourceDataset is read-only: pipelines never modify raw data")

    def _describe(self) -> dict[str, Any]:
        return {
            "reader": self._reader,
            "files": [raw_file.path for raw_file in self._files],
            "validation_files": [raw_file.path for raw_file in self._validation_files],
            "raw_dir": self._raw_dir,
        }


def select_source_entry(entries: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """Config resolver behind ``raw_texts``: the catalog entry of ``source``, clearly refused if unknown."""
    if source not in entries:
        raise ValueError(
            f"Unknown source '{source}'. Choose one of {sorted(entries)} with "
            "`kedro run --params source=<name>`, or declare it under _raw_sources in catalog.yml."
        )
    return entries[source]
