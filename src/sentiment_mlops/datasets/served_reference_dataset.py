"""``ServedReferenceDataset``: the served model version and the data it was trained on.

The ``monitoring`` pipeline compares what the service saw with what the served version
learned from. Both halves come from one resolution of the alias (``champion`` by default), so
a promotion during the run cannot pair one version's estimator with another's training data:
the version, its run's test macro-F1, its fitted estimator, and the training split its run
logged (``reference/train_split.parquet``, checked against the run's ``train_data_sha256``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow.tracking import MlflowClient

from sentiment_mlops.hooks import TRAIN_DATA_HASH_TAG, TRAIN_SPLIT_ARTIFACT
from sentiment_mlops.mlflow_registry import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    load_packaged_model,
    split_fingerprint,
)

TEST_MACRO_F1_METRIC = "test.macro_f1"


class ServedReference(NamedTuple):
    """A registered version and the training data it learned from."""

    model_name: str
    version: str
    run_id: str
    test_macro_f1: float | None
    estimator: Any
    train_split: pd.DataFrame


class ServedReferenceDataset(AbstractDataset[None, ServedReference]):
    """Read-only: ``model_name`` at ``alias`` -> :class:`ServedReference`."""

    def __init__(
        self,
        *,
        model_name: str = REGISTERED_MODEL_NAME,
        alias: str = CHAMPION_ALIAS,
        metadata: dict[str, Any] | None = None,
    ):
        self._model_name = model_name
        self._alias = alias
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name, "alias": self._alias}

    def load(self) -> ServedReference:
        """Resolve the alias once, then load that version's estimator and training split."""
        client = MlflowClient()
        try:
            version = client.get_model_version_by_alias(self._model_name, self._alias)
        except Exception as error:
            raise DatasetError(
                f"No version of {self._model_name!r} has the alias {self._alias!r} in the "
                f"MLflow registry at {mlflow.get_tracking_uri()} ({error}). Train and promote "
                "one with `kedro run`, or set MLFLOW_TRACKING_URI to the registry the service "
                "uses."
            ) from error
        run = client.get_run(version.run_id)
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=TRAIN_SPLIT_ARTIFACT
            )
        except Exception as error:
            raise DatasetError(
                f"Version {version.version} of {self._model_name!r} (run {version.run_id}) "
                f"has no {TRAIN_SPLIT_ARTIFACT}: it was trained before training runs logged "
                "their split. Retrain with `kedro run` to monitor it."
            ) from error
        train_split = pd.read_parquet(path)
        recorded = run.data.tags.get(TRAIN_DATA_HASH_TAG)
        if recorded and split_fingerprint(train_split) != recorded:
            raise DatasetError(
                f"The training split logged by run {version.run_id} does not match its "
                f"{TRAIN_DATA_HASH_TAG} tag: the artifact was changed after the run."
            )
        _, estimator = load_packaged_model(f"models:/{self._model_name}/{version.version}")
        return ServedReference(
            model_name=self._model_name,
            version=str(version.version),
            run_id=version.run_id,
            test_macro_f1=run.data.metrics.get(TEST_MACRO_F1_METRIC),
            estimator=estimator,
            train_split=train_split,
        )

    def save(self, data: None) -> None:
        """Read-only."""
        raise DatasetError("ServedReferenceDataset is read-only: `kedro run` registers models.")


class ModelVersionTagsDataset(AbstractDataset[dict[str, str], None]):
    """Write-only: tags on a registered version, and the served version on the active run.

    Saves ``{"model_name": ..., "version": ..., <tag>: <value>, ...}``: each other key becomes
    a tag of that version, so the registry shows a version's last monitoring verdict.
    """

    def __init__(self, *, metadata: dict[str, Any] | None = None):
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {}

    def load(self) -> None:
        """Write-only."""
        raise DatasetError("ModelVersionTagsDataset is write-only: read tags in the registry.")

    def save(self, data: dict[str, str]) -> None:
        """Set the tags; the active run (kedro-mlflow's) is tagged with the version."""
        tags = dict(data)
        name, version = tags.pop("model_name"), tags.pop("version")
        client = MlflowClient()
        run = mlflow.active_run()
        if run is not None:
            tags["monitoring_run_id"] = run.info.run_id
            mlflow.set_tags({"served_model_name": name, "served_model_version": version})
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, str(value))
