"""Project hooks around MLflow tracking.

The served model's card (``GET /model``) names the training data and the code that produced
it. MLflow records neither reliably for a ``kedro run`` (its git tag depends on how the
process was started), so ``ModelCardHook`` sets these tags on the training run explicitly.
``RemoteModelArtifactsHook`` lets kedro-mlflow package the model when its fitted artifacts
live on S3 (``kedro run --env aws``).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro_datasets.pickle import PickleDataset
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

TRAIN_DATA_HASH_TAG = "train_data_sha256"
GIT_COMMIT_TAG = "git_commit"

logger = logging.getLogger(__name__)


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


def _is_local_file(dataset: Any) -> bool:
    """Whether kedro-mlflow can log ``dataset`` from its ``_filepath`` as a local file."""
    return getattr(dataset, "_protocol", "file") == "file"


class RemoteModelArtifactsHook:
    """Lets kedro-mlflow package the inference pipeline when its inputs are not local files.

    After a ``PipelineML`` run, kedro-mlflow 2.0.3 (``MlflowHook.after_pipeline_run``) logs each
    persisted input of the inference pipeline as a model artifact from
    ``Path(dataset._filepath).resolve()``, i.e. it assumes a local file. On S3 (``conf/aws``)
    that is the object key read as a local path, and logging the model fails. This hook wraps
    kedro-mlflow's: before it, each such input is copied into a temporary directory as a
    pickle and a local ``PickleDataset`` takes its place in the catalog (what kedro-mlflow
    does for parameters); after it, the original datasets are put back and the directory is
    deleted. Nothing stays on local disk; the packaged model no longer refers to S3.
    """

    @hook_impl(wrapper=True)
    def after_pipeline_run(self, pipeline: Any, catalog: Any):
        """Swap non-local inference inputs for temporary local copies around the model logging."""
        if not isinstance(pipeline, PipelineML):
            return (yield)
        remote = [
            name
            for name in sorted(pipeline.inference.inputs() - {pipeline.input_name})
            if not name.startswith("params:") and not _is_local_file(catalog[name])
        ]
        if not remote:
            return (yield)
        originals = {name: catalog[name] for name in remote}
        with TemporaryDirectory(prefix="sentiment-model-artifacts-") as folder:
            try:
                for name in remote:
                    local = PickleDataset(filepath=(Path(folder) / f"{name}.pkl").as_posix())
                    local.save(catalog.load(name))
                    catalog[name] = local
                    logger.info(
                        "Model artifact '%s' (%s://%s) copied to a temporary local file for "
                        "MLflow; it is deleted once the model is logged",
                        name,
                        originals[name]._protocol,
                        originals[name]._filepath,
                    )
                return (yield)
            finally:
                for name, dataset in originals.items():
                    catalog[name] = dataset
