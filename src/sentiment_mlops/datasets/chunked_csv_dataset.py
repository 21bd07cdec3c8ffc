"""``ChunkedCSVDataset``: a CSV that a generator node writes one chunk at a time.

kedro-datasets' ``pandas.CSVDataset`` writes a whole table per ``save``. A generator node
(batch inference over a file larger than memory) saves once per chunk, so the first save of
a run must truncate the file and write the header, and the later ones append rows only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro_datasets.pandas import CSVDataset


class ChunkedCSVDataset(CSVDataset):
    """Like ``pandas.CSVDataset``; successive saves on one instance append without a header.

    A new catalog (a new ``kedro run``) starts the file afresh, so re-running never mixes
    old and new predictions.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._chunks_saved = 0

    def save(self, data: pd.DataFrame) -> None:
        """Write ``data``: header and truncate on the first call, append afterwards."""
        first = self._chunks_saved == 0
        self._fs_open_args_save = {**self._fs_open_args_save, "mode": "w" if first else "a"}
        self._save_args = {**self._save_args, "header": first}
        super().save(data)
        self._chunks_saved += 1
