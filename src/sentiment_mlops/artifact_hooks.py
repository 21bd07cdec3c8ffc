"""Lets kedro-mlflow package the model when its fitted artifacts live on S3 (``--env aws``).

After a ``PipelineML`` run, kedro-mlflow 2.0.3 (``MlflowHook.after_pipeline_run``) logs each
persisted input of the inference pipeline as a model artifact from
``Path(dataset._filepath).resolve()``: it assumes a local file. On S3 that path is the object
key read as a local path, and logging the model fails ("No such artifact").
"""

from __future__ import annotations

import logging
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro_datasets.pickle import PickleDataset
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

logger = logging.getLogger(__name__)


def _is_local_file(dataset: Any) -> bool:
    """Whether kedro-mlflow can log ``dataset`` from its ``_filepath`` as a local file."""
    return getattr(dataset, "_protocol", "file") == "file"


class RemoteModelArtifactsHook:
    """Lets kedro-mlflow package the inference pipeline when its inputs are not local files.

    A pluggy wrapper around kedro-mlflow's ``after_pipeline_run`` (and the other
    implementations): before them, each such input is copied into a temporary directory as a
    pickle and a local ``PickleDataset`` takes its place in the catalog (what kedro-mlflow
    does for parameters); after them, the original datasets are put back and the directory
    is deleted. Nothing stays on local disk; the packaged model no longer refers to S3.
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
