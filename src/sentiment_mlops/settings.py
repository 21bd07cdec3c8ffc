"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

from omegaconf.resolvers import oc

from sentiment_mlops.artifact_hooks import RemoteModelArtifactsHook
from sentiment_mlops.hooks import DaskClientHook, ModelCardHook, PromotionHook
from sentiment_mlops.run_parameters import RunParametersHook

HOOKS = (
    ModelCardHook(),
    PromotionHook(),
    RemoteModelArtifactsHook(),
    RunParametersHook(),
    DaskClientHook(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {
        # Only enabled for credentials by default; mlflow.yml uses it so that
        # MLFLOW_TRACKING_URI, when set, overrides the embedded SQLite store.
        "oc.env": oc.env,
    },
}
