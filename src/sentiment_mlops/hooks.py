"""Project hooks: what the model card reports, and the champion decision.

- ``ModelCardHook``: the served model's card (``GET /model``) names the training data and
  the code that produced it. MLflow records neither reliably for a ``kedro run`` (its git
  tag depends on how the process was started), so these tags are set on the run explicitly.
- ``PromotionHook``: kedro-mlflow registers the packaged model only after the last node, so
  the ``champion`` decision cannot be a node; it runs here, right after that registration,
  on the promotion request this run's ``request_promotion`` node returned.
- ``DaskClientHook``: a run that reads or writes Dask datasets computes them on one Dask
  client, started before its first node and closed after its last, even when a node fails.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.tracking import MlflowClient

from sentiment_mlops.dask_cluster import dask_client
from sentiment_mlops.mlflow_registry import (
    REGISTERED_MODEL_NAME,
    promote_if_better,
    split_fingerprint,
)

logger = logging.getLogger(__name__)

TRAIN_DATA_HASH_TAG = "train_data_sha256"
# The training split itself, as an artifact of the run that trained on it.
TRAIN_SPLIT_ARTIFACT = "reference/train_split.parquet"
GIT_COMMIT_TAG = "git_commit"


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
    """Tags the active MLflow run with the training split's hash and the git commit, and
    logs the split (``reference/train_split.parquet``) for the monitoring pipeline."""

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
                TRAIN_DATA_HASH_TAG: split_fingerprint(data),
                GIT_COMMIT_TAG: git_commit(Path(__file__).parent),
            }
        )
        # The monitoring pipeline compares what the served version sees with this split.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / TRAIN_SPLIT_ARTIFACT.rsplit("/", 1)[-1]
            data.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), artifact_path=TRAIN_SPLIT_ARTIFACT.rsplit("/", 1)[0])

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """The split was just made in this run."""
        self._tag(dataset_name, data)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        """The split was made by an earlier run (``kedro run --pipelines training``)."""
        self._tag(dataset_name, data)


class PromotionHook:
    """Moves ``champion`` to the version this run registered, if it is at least as good.

    ``trylast`` puts it after kedro-mlflow's own ``after_pipeline_run``, which registers the
    model and ends the run. A run that registered nothing (a single pipeline, say) leaves
    the registry alone. The request compared is the one this run's node returned, kept in
    memory: the ``promotion_request`` file is a report, and another run in the same project
    directory may have written it since.
    """

    def __init__(self) -> None:
        self._request: dict[str, Any] | None = None

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Forget the previous run's request (one process may run several sessions)."""
        self._request = None

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        """Keep the promotion request when this run's node returns it."""
        if "promotion_request" in outputs:
            self._request = outputs["promotion_request"]

    @hook_impl(trylast=True)
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        """Decide on the alias and save the decision through the catalog."""
        if (
            not isinstance(pipeline, PipelineML)
            or "promotion_request" not in pipeline.all_outputs()
        ):
            return
        run = mlflow.last_active_run()
        versions = (
            MlflowClient().search_model_versions(
                f"name = '{REGISTERED_MODEL_NAME}' and run_id = '{run.info.run_id}'"
            )
            if run is not None
            else []
        )
        if not versions:
            logger.warning("No model version was registered by this run: champion unchanged")
            return
        request = self._request
        if request is None:  # a runner that runs node hooks in other processes
            logger.warning(
                "This process did not see the request_promotion node's output: champion "
                "unchanged. Run with the default runner, or move the alias by hand: "
                "sentiment-mlops promote --version %s",
                versions[0].version,
            )
            return
        # kedro-mlflow leaves the run open when it did not open it; reopen it only if closed.
        active = mlflow.active_run()
        same_run = active is not None and active.info.run_id == run.info.run_id
        with contextlib.nullcontext() if same_run else mlflow.start_run(run_id=run.info.run_id):
            decision = promote_if_better(
                REGISTERED_MODEL_NAME,
                versions[0].version,
                request["test_macro_f1"],
                data_source=request["data_source"],
                test_split_sha256=request["test_split_sha256"],
            )
        catalog.save("promotion_decision", decision.as_dict())


# The datasets that compute Dask frames, by name: importing them (and Dask, ~0.3 s) to test
# with isinstance would slow every run down, the many that use no Dask.
DASK_DATASETS = {
    "kedro_datasets.dask.csv_dataset.CSVDataset",
    "kedro_datasets.dask.parquet_dataset.ParquetDataset",
    "sentiment_mlops.datasets.dask_parquet_dataset.DaskParquetDataset",
}


def _is_dask_dataset(dataset: Any) -> bool:
    return any(
        f"{cls.__module__}.{cls.__qualname__}" in DASK_DATASETS for cls in type(dataset).__mro__
    )


class DaskClientHook:
    """Starts the run's Dask client when its pipeline reads or writes a Dask dataset.

    The nodes build lazy Dask frames and the datasets compute them as they save, after the
    node has returned: the client must outlive the nodes, so a hook owns it. Where it runs
    comes from the ``dask_scoring`` parameters: ``scheduler`` (an address, or null for a
    ``LocalCluster`` on 127.0.0.1) and ``n_workers`` (of that LocalCluster; null: one per
    core). A run without Dask datasets starts nothing.
    """

    def __init__(self) -> None:
        self._client_context: contextlib.ExitStack | None = None

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        """Start the client if any dataset of the pipeline is a Dask one."""
        if not any(
            _is_dask_dataset(catalog.get(name)) for name in pipeline.datasets() if name in catalog
        ):
            return
        settings = (
            catalog.load("params:dask_scoring") if "params:dask_scoring" in catalog else None
        ) or {}
        self._client_context = contextlib.ExitStack()
        self._client_context.enter_context(
            dask_client(
                settings.get("scheduler"),
                n_workers=settings.get("n_workers"),
                purpose="Batch scoring",
            )
        )

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Close the client (and the LocalCluster it started)."""
        self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Close the client when a node or a save failed."""
        self._close()

    def _close(self) -> None:
        if self._client_context is not None:
            context, self._client_context = self._client_context, None
            context.close()
