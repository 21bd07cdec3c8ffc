"""``SentimentSourceDataset``: the chosen public sentiment source, as the canonical table.

Every source is declared once, as one block of the catalog's ``_sources``: its files (path,
sha256, pinned URL), the reader its format needs, and how its columns and labels map onto the
canonical ``text, label`` table. The readers exist because the sources disagree on format in ways
that matter: SemEval lines must be split on the first two tabs only (its texts hold stray
quotes), UCI needs ``QUOTE_NONE``, TweetEval keeps text and labels in two line-aligned files.

The dataset is read-only: raw data is never written by a pipeline.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


class DataValidationError(DatasetError):
    """A source's declaration is incomplete, or its data does not have the promised shape."""


@dataclass(frozen=True)
class SourceSpec:
    """One block of ``_sources``: where a source's files are and how they map onto the table."""

    name: str
    reader: str
    files: tuple[RawFile, ...]
    text_column: str
    label_column: str
    label_map: Mapping[str, str]
    load_args: Mapping[str, Any] = field(default_factory=dict)
    validation_files: tuple[RawFile, ...] = ()
    validation_reader: str | None = None

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> SourceSpec:
        """Build and check the block of ``name``, naming any key that is missing or unknown."""
        known = {f for f in cls.__dataclass_fields__ if f != "name"}
        required = {"reader", "files", "text_column", "label_column", "label_map"}
        problems = [
            f"{what} {keys}"
            for what, keys in (
                ("missing", sorted(required - set(config))),
                ("unknown", sorted(set(config) - known)),
            )
            if keys
        ]
        if problems:
            raise DataValidationError(
                f"Source '{name}' under _sources in catalog.yml: {'; '.join(problems)}. "
                f"A source block takes {sorted(known)}."
            )
        for reader in (config["reader"], config.get("validation_reader")):
            if reader is not None and reader not in READERS:
                raise DataValidationError(
                    f"Source '{name}': unknown reader '{reader}'; choose one of {sorted(READERS)}"
                )
        if not config["files"]:
            raise DataValidationError(f"Source '{name}' needs at least one entry in 'files'")
        return cls(
            name=name,
            reader=config["reader"],
            files=tuple(RawFile(**spec) for spec in config["files"]),
            text_column=config["text_column"],
            label_column=config["label_column"],
            label_map={str(key): value for key, value in config["label_map"].items()},
            load_args=dict(config.get("load_args") or {}),
            validation_files=tuple(
                RawFile(**spec) for spec in config.get("validation_files") or []
            ),
            validation_reader=config.get("validation_reader"),
        )

    @property
    def all_files(self) -> tuple[RawFile, ...]:
        """Every raw file of the source, validation files included."""
        return self.files + self.validation_files


def _label_strings(labels: pd.Series) -> pd.Series:
    """Labels as stripped strings; integral floats (ints next to a missing value) lose their ".0"."""
    if pd.api.types.is_float_dtype(labels):
        present = labels.dropna()
        if (present == present.round()).all():
            labels = labels.astype("Int64")
    return labels.astype("string").str.strip()


def canonical_table(raw: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """Map a parsed source onto ``text``, ``label``, ``source`` (and its original split).

    Fails, naming the dataset, the column and the count, when a declared column is missing,
    the table is empty, or labels fall outside ``label_map``.
    """
    name, text_column, label_column = spec.name, spec.text_column, spec.label_column
    missing = [column for column in (text_column, label_column) if column not in raw.columns]
    if missing:
        raise DataValidationError(
            f"Dataset '{name}': missing column(s) {missing}; it has {list(raw.columns)}. "
            f"Fix text_column/label_column of '{name}' under _sources in catalog.yml."
        )
    if raw.empty:
        raise DataValidationError(f"Dataset '{name}' is empty: no rows to train on.")
    raw_labels = _label_strings(raw[label_column])
    labels = raw_labels.map(dict(spec.label_map))
    unknown = raw_labels[labels.isna()]
    if not unknown.empty:
        examples = sorted(unknown.fillna("<missing>").unique().tolist())[:5]
        raise DataValidationError(
            f"Dataset '{name}', column '{label_column}': {len(unknown)} row(s) have labels "
            f"outside label_map {sorted(spec.label_map)} (for example {examples}). "
            f"Add them to label_map of '{name}' under _sources in catalog.yml or fix the data."
        )
    origin = raw[ORIGIN_SPLIT_COLUMN] if ORIGIN_SPLIT_COLUMN in raw else "train"
    return pd.DataFrame(
        {
            "text": raw[text_column].astype("string"),
            "label": labels.astype("string"),
            "source": name,
            ORIGIN_SPLIT_COLUMN: origin,
        }
    )


class SentimentSourceDataset(AbstractDataset[None, pd.DataFrame]):
    """The canonical table of ``source``, one of the declared ``sources``.

    Files are read from ``data/01_raw``, a mirror (``$SENTIMENT_DATA_MIRROR``) or their pinned
    public URL, each checked against its sha256. ``raw_dir`` may also be a URL such as
    ``s3://bucket/prefix/01_raw``: the files are then read from there only.

    Example catalog entry::

        raw_texts:
          type: sentiment_mlops.datasets.SentimentSourceDataset
          source: airline
          sources:
            airline:
              reader: csv
              files:
                - path: twitter_airline_sentiment/Tweets.csv
                  sha256: ea94b23f...
                  url: https://raw.githubusercontent.com/<owner>/<repo>/<commit>/Kaggle_Tweets.csv
              text_column: text
              label_column: airline_sentiment
              label_map: {negative: negative, neutral: neutral, positive: positive}

    ``validation_files`` (optional, same shape, with their own ``validation_reader``) are
    rows the source's authors set aside for validation; they come back with
    ``origin_split == "validation"`` so the split node can keep them there.
    """

    def __init__(
        self,
        *,
        source: str,
        sources: Mapping[str, Mapping[str, Any]],
        raw_dir: str = "data/01_raw",
        metadata: dict[str, Any] | None = None,
    ):
        if source not in sources:
            raise DataValidationError(
                f"Unknown source '{source}'. Choose one of {sorted(sources)} with "
                "`kedro run --params source=<name>`, or declare it under _sources in catalog.yml"
            )
        self.spec = SourceSpec.from_config(source, sources[source])
        self.raw_dir = str(raw_dir)
        self.metadata = metadata

    def _read(self, reader: str, files: tuple[RawFile, ...]) -> pd.DataFrame:
        load_args = dict(self.spec.load_args) if reader == self.spec.reader else {}
        if is_remote(self.raw_dir):
            # Remote raw data (s3://...) is copied to a temporary directory only for parsing.
            with tempfile.TemporaryDirectory(prefix="sentiment-raw-") as tmp:
                paths = [fetch_remote_raw_file(raw, self.raw_dir, tmp) for raw in files]
                return READERS[reader](paths, load_args)
        paths = [resolve_raw_file(raw_file, self.raw_dir) for raw_file in files]
        return READERS[reader](paths, load_args)

    def load(self) -> pd.DataFrame:
        """Resolve, verify and parse every file, then map it onto the canonical columns."""
        spec = self.spec
        data = self._read(spec.reader, spec.files).assign(**{ORIGIN_SPLIT_COLUMN: "train"})
        if spec.validation_files:
            validation = self._read(spec.validation_reader or spec.reader, spec.validation_files)
            data = pd.concat(
                [data, validation.assign(**{ORIGIN_SPLIT_COLUMN: "validation"})],
                ignore_index=True,
            )
        return canonical_table(data, spec)

    def save(self, data: pd.DataFrame) -> None:
        """Raw sources are read-only."""
        raise DatasetError("SentimentSourceDataset is read-only: pipelines never modify raw data")

    def _describe(self) -> dict[str, Any]:
        return {
            "source": self.spec.name,
            "reader": self.spec.reader,
            "files": [raw_file.path for raw_file in self.spec.all_files],
            "raw_dir": self.raw_dir,
        }
