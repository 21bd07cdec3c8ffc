"""Fitted models wrapped for the Dask scoring tests: they score as the model they wrap, and
also record where they are unpickled, or fail on chosen texts (on the workers, in other
processes, so what they do is left in files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A partition holding this text kills its worker process, the first time only.
KILL_TEXT = "this text kills its worker"
# A partition holding this text fails, every time.
FAIL_TEXT = "this text fails its partition"


class WrappedModel:
    """Scores with ``model``; ``unpickled_log`` gets the pid of every process that unpickles
    it, and ``kill_marker`` says that ``KILL_TEXT`` has killed a worker already."""

    def __init__(self, model: Any, unpickled_log: Path, kill_marker: Path) -> None:
        self.model = model
        self.unpickled_log = unpickled_log
        self.kill_marker = kill_marker

    @property
    def classes_(self) -> Any:
        return self.model.classes_

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with self.unpickled_log.open("a") as log:
            log.write(f"{os.getpid()}\n")

    def predict_proba(self, texts: Any) -> Any:
        if FAIL_TEXT in list(texts):
            raise ValueError("this partition fails on purpose")
        if KILL_TEXT in list(texts) and not self.kill_marker.exists():
            self.kill_marker.touch()
            os._exit(1)  # the worker process dies as if killed: no cleanup, no answer
        return self.model.predict_proba(texts)
