"""``ChunkedCSVDataset``: a CSV written from a table or from an iterator of chunks, published
only once complete.

kedro-datasets' ``pandas.CSVDataset`` writes one table per ``save``, straight to its path. Batch
inference over a file larger than memory produces its predictions chunk by chunk, and a fault
half-way (the store or the disk failing, a bad chunk) must leave the previous predictions as they
were, and no file under the dataset's name that looks complete but is not.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import get_filepath_str
from kedro_datasets.pandas import CSVDataset


class ChunkedCSVDataset(CSVDataset):
    """Like ``pandas.CSVDataset``; ``save`` also takes an iterator of tables (one header).

    The rows are written to a temporary file first: beside the target on a local disk, then
    moved over it in one step (``os.replace``); in the local temporary directory for a remote
    target (``s3://...``), then uploaded in one request, which readers see whole or not at all.
    If writing fails, the temporary file is removed and the error raised; the target is untouched.
    """

    def save(self, data: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
        """Write ``data`` (a table, or tables to concatenate in order), then publish the file."""
        chunks = [data] if isinstance(data, pd.DataFrame) else data
        target = get_filepath_str(self._get_save_path(), self._protocol)
        local = self._protocol == "file"
        if local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            staging = str(
                Path(target).with_name(f".{Path(target).name}.{uuid.uuid4().hex}.partial")
            )
        else:
            handle, staging = tempfile.mkstemp(suffix=".csv.partial")
            os.close(handle)
        save_args: dict[str, Any] = dict(self._save_args)
        save_args.pop("header", None)  # one header, from the first chunk
        encoding = save_args.pop("encoding", "utf-8")
        try:
            with open(staging, "w", newline="", encoding=encoding) as file:
                for number, chunk in enumerate(chunks):
                    chunk.to_csv(file, header=number == 0, **save_args)
            if local:
                os.replace(staging, target)
            else:
                self._fs.put_file(staging, target)
        finally:
            if os.path.exists(staging):
                os.remove(staging)
        self._invalidate_cache()
