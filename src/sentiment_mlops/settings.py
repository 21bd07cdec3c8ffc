"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

from omegaconf.resolvers import oc

from sentiment_mlops.artifact_hooks import RemoteModelArtifactsHook
from sentiment_mlops.datasets.sentiment_source_dataset import select_source_entry
from sentiment_mlops.hooks import ModelCardHook, PromotionHook

HOOKS = (ModelCardHook(), PromotionHook(), RemoteModelArtifactsHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {
        # Only enabled for credentials by default; mlflow.yml uses it so that
        # MLFLOW_TRACKING_URI, when set, overrides the embedded SQLite store.
        "oc.env": oc.env,
        # `raw_texts` in catalog.yml: the raw dataset of `--params source=<name>`.
        "sentiment_source": select_source_entry,
    },
}
