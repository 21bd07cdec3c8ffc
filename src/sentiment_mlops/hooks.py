"""Project hooks: record on the MLflow run what the API's model card reports.

The served model's card (``GET /model``) names the training data and the code that produced
it. MLflow records neither reliably for a ``kedro run`` (its git tag depends on how the
process was started), so these tags are set on the training run explicitly.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl

TRAIN_DATA_HASH_TAG = "train_data_sha256"
GIT_COMMIT_TAG = "git_commit"


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a table: equal rows in equal order give an equal hash."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(row_hashes.tobytes()).hexdigest()


def git_commit(path: Path) -> str:
    """The checked-out commit of ``path`` (with ``-dirty`` for local changes), or ``unknown``."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return described.stdout.strip() or "unknown"


class ModelCardHook:
    """Tags the active MLflow run with the training split's hash and the git commit."""

    def __init__(self, dataset_name: str = "train_split"):
        self._dataset_name = dataset_name
        self._tagged_run_id: str | None = None

    def _tag(self, dataset_name: str, data: Any) -> None:
        run = mlflow.active_run()
        if dataset_name != self._dataset_name or run is None:
            return
        if run.info.run_id == self._tagged_run_id:  # the split is loaded by several nodes
            return
        self._tagged_run_id = run.info.run_id
        mlflow.set_tags(
            {
                TRAIN_DATA_HASH_TAG: frame_sha256(data),
                GIT_COMMIT_TAG: git_commit(Path(__file__).parent),
            }
        )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """The split was just made in this run."""
        self._tag(dataset_name, data)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        """The split was made by an earlier run (``kedro run --pipelines training``)."""
        self._tag(dataset_name, data)
