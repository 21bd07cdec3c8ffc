"""``PackagedModelDataset``: the fitted estimator of a registered model version, for batch scoring.

``kedro run --pipelines inference`` must score with the model the registry calls ``champion``,
not with whatever the last training run left in ``data/06_models`` (a worse model is
registered too, just without the alias). This dataset loads the registered
``KedroPipelineModel`` through kedro-mlflow's ``MlflowModelRegistryDataset`` and hands the
inference node the fitted estimator packaged inside it: the same artifact the service uses.
"""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import DatasetError
from kedro_mlflow.io.models import MlflowModelRegistryDataset

from sentiment_mlops.mlflow_registry import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    packaged_artifact,
)


class PackagedModelDataset(MlflowModelRegistryDataset):
    """Read-only: ``model_name`` at ``alias`` (or ``stage_or_version``) -> its fitted estimator.

    Without either, it is the champion of the project's registered model (kedro-mlflow's own
    default, the latest version, would score with a version that lost the promotion).
    """

    def __init__(
        self,
        *,
        model_name: str = REGISTERED_MODEL_NAME,
        alias: str | None = None,
        stage_or_version: str | int | None = None,
        **kwargs: Any,
    ):
        if alias is None and stage_or_version is None:
            alias = CHAMPION_ALIAS
        super().__init__(
            model_name=model_name, alias=alias, stage_or_version=stage_or_version, **kwargs
        )

    def _load(self) -> Any:
        try:
            pyfunc_model = super()._load()
        except Exception as error:
            raise DatasetError(
                f"Cannot load {self.model_uri} from the MLflow registry at "
                f"{mlflow.get_tracking_uri()}: {error}. Train and register a model with "
                "`kedro run` first, or pick another one with "
                "`--params model_alias=<alias>`."
            ) from error
        return packaged_artifact(pyfunc_model)

    def _save(self, data: Any) -> None:
        raise DatasetError(
            "PackagedModelDataset is read-only: models are registered by `kedro run`."
        )
