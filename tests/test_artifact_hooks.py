"""``RemoteModelArtifactsHook``: kedro-mlflow can package a model whose artifacts are not local.

The probe below does what kedro-mlflow's ``MlflowHook.after_pipeline_run`` does to collect the
model's artifacts (``KedroPipelineModel.extract_pipeline_artifacts``, which reads each input's
``_filepath`` as a local path). ``memory://`` is a real fsspec filesystem that, like ``s3://``,
is not the local disk.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pickle import PickleDataset
from kedro_mlflow.mlflow import KedroPipelineModel
from kedro_mlflow.pipeline import pipeline_ml_factory

from sentiment_mlops.artifact_hooks import RemoteModelArtifactsHook
from sentiment_mlops.pipelines import inference
from sentiment_mlops.pipelines.inference.pipeline import INPUT_NAME, MODEL_ARTIFACT

pytestmark = pytest.mark.unit

FITTED = {"classes": ["negative", "neutral", "positive"]}  # stands for the fitted model


def fit() -> dict:
    return FITTED


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


class ArtifactsProbe:
    """Collects the artifacts as kedro-mlflow does, and reads them back while they exist."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.seen: dict[str, tuple[Path, object]] = {}

    @hook_impl
    def after_pipeline_run(self, pipeline, catalog) -> None:
        model = KedroPipelineModel(
            pipeline=pipeline.inference, catalog=catalog, input_name=pipeline.input_name
        )
        for name, uri in model.extract_pipeline_artifacts(Path("unused")).items():
            path = path_of(uri)
            self.seen[name] = (path, pickle.loads(path.read_bytes()) if path.is_file() else None)
        if self.fail:
            raise RuntimeError("logging the model failed")


@pytest.fixture
def remote_model(tmp_path):
    """A PipelineML whose fitted artifact was saved to a non-local filesystem."""
    dataset = PickleDataset(filepath=f"memory://{tmp_path.name}/06_models/model.pkl")
    dataset.save(FITTED)
    catalog = DataCatalog({MODEL_ARTIFACT: dataset, INPUT_NAME: MemoryDataset()})
    pipeline = pipeline_ml_factory(
        training=Pipeline([Node(fit, None, MODEL_ARTIFACT, name="fit")]),
        inference=inference.create_pipeline(),
        input_name=INPUT_NAME,
    )
    return pipeline, catalog, dataset


def run_hooks(pipeline, catalog, *hooks) -> None:
    manager = _create_hook_manager()
    for hook in hooks:
        manager.register(hook)
    manager.hook.after_pipeline_run(
        run_params={}, run_result={}, pipeline=pipeline, catalog=catalog
    )


def test_without_the_hook_kedro_mlflow_looks_for_the_artifact_on_local_disk(remote_model):
    pipeline, catalog, _ = remote_model
    probe = ArtifactsProbe()
    run_hooks(pipeline, catalog, probe)
    path, content = probe.seen[MODEL_ARTIFACT]
    assert content is None and not path.exists()  # the bug this hook works around


def test_remote_artifact_is_a_local_file_while_the_model_is_logged(remote_model):
    pipeline, catalog, remote = remote_model
    probe = ArtifactsProbe()
    run_hooks(pipeline, catalog, RemoteModelArtifactsHook(), probe)
    path, content = probe.seen[MODEL_ARTIFACT]
    assert content == FITTED
    assert not path.exists() and not path.parent.exists()  # the temporary folder is gone
    assert catalog[MODEL_ARTIFACT] is remote  # the catalog is as it was


def test_catalog_restored_and_folder_removed_when_logging_fails(remote_model):
    pipeline, catalog, remote = remote_model
    probe = ArtifactsProbe(fail=True)
    with pytest.raises(RuntimeError, match="logging the model failed"):
        run_hooks(pipeline, catalog, RemoteModelArtifactsHook(), probe)
    path, content = probe.seen[MODEL_ARTIFACT]
    assert content == FITTED and not path.parent.exists()
    assert catalog[MODEL_ARTIFACT] is remote


def test_local_artifact_is_left_alone(tmp_path):
    local = PickleDataset(filepath=str(tmp_path / "model.pkl"))
    local.save(FITTED)
    catalog = DataCatalog({MODEL_ARTIFACT: local, INPUT_NAME: MemoryDataset()})
    pipeline = pipeline_ml_factory(
        training=Pipeline([Node(fit, None, MODEL_ARTIFACT, name="fit")]),
        inference=inference.create_pipeline(),
        input_name=INPUT_NAME,
    )
    probe = ArtifactsProbe()
    run_hooks(pipeline, catalog, RemoteModelArtifactsHook(), probe)
    assert probe.seen[MODEL_ARTIFACT] == ((tmp_path / "model.pkl").resolve(), FITTED)
    assert catalog[MODEL_ARTIFACT] is local
