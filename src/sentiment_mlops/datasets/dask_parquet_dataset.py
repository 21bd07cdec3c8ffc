"""``DaskParquetDataset``: a partitioned Parquet folder read and written by Dask, published only
once every partition is written.

kedro-datasets' ``dask.ParquetDataset`` writes the partitions straight into the target folder,
so a partition that fails (a bad row, a worker lost too often, the store going away) leaves a
folder that looks like output but is not, mixed with the previous run's files. (It also needs
``triad``, for its schema option, which this project does not use.) Here the partitions are
written to a staging folder beside the target first; only when all of them are written is
the staging folder published under the target's name:

- on a local disk by renames (the previous output moved aside, the new one moved in, the
  previous one removed), so readers see the old folder or the new one;
- on S3, where nothing renames, by server-side copies of the parts, after the previous
  output's parts are deleted; a ``_SUCCESS`` object, written last, marks a folder as
  complete (the convention of Hadoop and Spark) and readers that need a consistent view wait
  for it.

A failed save removes the staging folder and leaves the previous output as it was.
"""

from __future__ import annotations

import logging
import time
import uuid
from copy import deepcopy
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import fsspec
import pyarrow.parquet as pq
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

logger = logging.getLogger(__name__)

SUCCESS_MARKER = "_SUCCESS"


def part_name(number: int) -> str:
    """``part-000007.parquet``: zero-padded, so that every reader's name order (pandas and
    pyarrow list files by name) is the partition order."""
    return f"part-{number:06d}.parquet"


class DaskParquetDataset(AbstractDataset[dd.DataFrame, dd.DataFrame]):
    """A folder of Parquet parts as a Dask DataFrame; ``save`` computes the frame it is given
    (on the run's Dask client) and publishes the folder only when every part is written."""

    DEFAULT_LOAD_ARGS: dict[str, Any] = {}
    # The parts' row labels are Dask's per-partition positions, not data: not written.
    DEFAULT_SAVE_ARGS: dict[str, Any] = {"write_index": False, "name_function": part_name}

    def __init__(  # noqa: PLR0913 - the arguments of kedro-datasets' datasets
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._protocol, path = get_protocol_and_path(filepath)
        self._filepath = filepath.rstrip("/")
        self._storage_options = {**deepcopy(fs_args or {}), **deepcopy(credentials or {})}
        self._fs = fsspec.filesystem(self._protocol, **self._storage_options)
        # Absolute: the partitions are written by worker processes, whatever their directory.
        self._path = (
            Path(path).absolute().as_posix() if self._protocol == "file" else path.rstrip("/")
        )
        if "/" not in self._path:
            raise DatasetError(
                f"{filepath!r} is a bucket, not a folder: give a folder for the parts, "
                f"such as {filepath.rstrip('/')}/predictions."
            )
        self._parent, self._name = self._path.rsplit("/", 1)
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    def load(self) -> dd.DataFrame:
        return dd.read_parquet(
            self._filepath, storage_options=self._storage_options, **self._load_args
        )

    def save(self, data: dd.DataFrame) -> None:
        if not isinstance(data, dd.DataFrame):
            raise DatasetError(
                f"{type(self).__name__} saves a Dask DataFrame, got {type(data).__name__}; "
                "convert a pandas table with dask.dataframe.from_pandas first."
            )
        staging = f"{self._parent}/.{self._name}.{uuid.uuid4().hex}.partial"
        started = time.perf_counter()
        try:
            data.to_parquet(
                self._url(staging), storage_options=self._storage_options, **self._save_args
            )
            rows = self._row_count(staging)
            self._publish(staging)
        finally:
            if self._fs.exists(staging):
                self._fs.rm(staging, recursive=True)
        seconds = time.perf_counter() - started
        logger.info(
            "Wrote %d rows to %s in %.1f s (%.0f rows/s)",
            rows,
            self._filepath,
            seconds,
            rows / seconds if seconds else 0.0,
        )

    def _exists(self) -> bool:
        return self._fs.exists(self._path)

    def _url(self, path: str) -> str:
        return path if self._protocol == "file" else f"{self._protocol}://{path}"

    def _row_count(self, folder: str) -> int:
        """Rows written, from the parts' Parquet footers (no data is read)."""
        total = 0
        for part in self._fs.glob(f"{folder}/*.parquet"):
            with self._fs.open(part, "rb") as file:
                total += pq.read_metadata(file).num_rows
        return total

    def _publish(self, staging: str) -> None:
        if self._protocol == "file":
            previous = f"{staging}.previous"
            if self._fs.exists(self._path):
                self._fs.mv(self._path, previous, recursive=True)
            self._fs.mv(staging, self._path, recursive=True)
            if self._fs.exists(previous):
                self._fs.rm(previous, recursive=True)
        else:
            if self._fs.exists(self._path):
                self._fs.rm(self._path, recursive=True)
            for part in self._fs.find(staging):
                self._fs.copy(part, self._path + part[len(staging) :])
        self._fs.pipe(f"{self._path}/{SUCCESS_MARKER}", b"")
        self._fs.invalidate_cache(self._path)
