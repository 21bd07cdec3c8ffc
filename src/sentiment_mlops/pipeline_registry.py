"""Project pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, pipeline
from kedro.utils import find_kedro_project
from kedro_mlflow.pipeline import pipeline_ml_factory
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from sentiment_mlops.mlflow_registry import REGISTERED_MODEL_NAME, packaged_model_requirements
from sentiment_mlops.networks import MODULE_PREFIX as NETWORK_MODULE_PREFIX
from sentiment_mlops.pipelines import (
    calibration,
    data_processing,
    evaluation,
    feature_engineering,
    feedback,
    inference,
    inference_dask,
    monitoring,
    training,
)
from sentiment_mlops.pipelines.inference.pipeline import INPUT_NAME, MODEL_ARTIFACT
from sentiment_mlops.pipelines.training.candidates import all_candidates
from sentiment_mlops.pipelines.training.votes import check_votes
from sentiment_mlops.run_parameters import run_parameters

# What `mlflow.pyfunc.load_model(...).predict` takes: a DataFrame with one `text` column.
MODEL_SIGNATURE = ModelSignature(inputs=Schema([ColSpec("string", "text")]))
MODEL_INPUT_EXAMPLE = pd.DataFrame(
    {"text": ["@united the flight was great, thanks!", "@united my bag is lost again"]}
)
# The package's own code, copied into every packaged model: a fresh environment that installs
# the model's requirements can unpickle its estimators without installing this project.
PACKAGE_DIR = Path(__file__).parent


def configured_candidates(parameters: dict[str, Any]) -> dict[str, str]:
    """Each candidate's name, in configured order, mapped to its parameter path."""
    extra = parameters.get("extra_candidates") or {}
    return {
        name: f"{'extra_candidates' if extra.get(name) is not None else 'candidates'}.{name}"
        for name in all_candidates(parameters.get("candidates") or {}, extra)
    }


def configured_votes(parameters: dict[str, Any]) -> dict[str, list[str]]:
    """Each vote's name mapped to its members, checked against the run's candidates."""
    votes = check_votes(parameters.get("votes"), list(configured_candidates(parameters)))
    return {name: list(vote["members"]) for name, vote in votes.items()}


def _names_a_network(spec: Any) -> bool:
    """Whether a configuration value names a class of ``sentiment_mlops.networks`` anywhere:
    as a candidate's estimator, a nested estimator or a feature block."""
    if isinstance(spec, str):
        return spec.startswith(NETWORK_MODULE_PREFIX)
    if isinstance(spec, dict):
        return any(_names_a_network(value) for value in spec.values())
    if isinstance(spec, list | tuple):
        return any(_names_a_network(value) for value in spec)
    return False


def runs_networks(parameters: dict[str, Any]) -> bool:
    """Whether a candidate of the run uses a network of ``sentiment_mlops.networks`` (then the
    packaged model needs the deep extra's packages)."""
    declared = all_candidates(
        parameters.get("candidates") or {}, parameters.get("extra_candidates")
    )
    return _names_a_network(declared)


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``kedro run`` runs the training stages.

    The default pipeline is a kedro-mlflow ``PipelineML``: after the training stages it logs
    the ``inference`` pipeline with its fitted artifacts as an MLflow model and registers it
    as a new version of ``sentiment``; the model carries the package's code and the locked
    requirements, so it loads in a fresh environment. It must stay a ``PipelineML`` object (adding it to
    another pipeline turns it back into a plain one and nothing gets logged).

    The training pipeline has one modular pipeline per candidate of the run's environment.
    """
    parameters = run_parameters()
    pipelines = {
        "data_processing": data_processing.create_pipeline(
            include_feedback=bool((parameters.get("feedback") or {}).get("include"))
        ),
        "feature_engineering": feature_engineering.create_pipeline(),
        "training": training.create_pipeline(
            configured_candidates(parameters), configured_votes(parameters)
        ),
        "calibration": calibration.create_pipeline(),
        "evaluation": evaluation.create_pipeline(),
    }
    training_stages = sum(pipelines.values(), Pipeline([]))
    # Packaged with the artifact this training run fitted; run on its own (batch scoring), the
    # same nodes score with the registry's champion (`champion_model`).
    packaged_inference = inference.create_pipeline()
    pipelines["inference"] = pipeline(packaged_inference, inputs={MODEL_ARTIFACT: "champion_model"})
    pipelines["inference_dask"] = inference_dask.create_pipeline()
    pipelines["monitoring"] = monitoring.create_pipeline()
    pipelines["feedback"] = feedback.create_pipeline()
    pipelines["__default__"] = pipeline_ml_factory(
        training=training_stages,
        inference=packaged_inference,
        input_name=INPUT_NAME,
        log_model_kwargs={
            "name": "model",
            "registered_model_name": REGISTERED_MODEL_NAME,
            "signature": MODEL_SIGNATURE,
            "input_example": MODEL_INPUT_EXAMPLE,
            "code_paths": [str(PACKAGE_DIR)],
            "pip_requirements": packaged_model_requirements(
                find_kedro_project(Path.cwd()), with_networks=runs_networks(parameters)
            ),
        },
    )
    return pipelines
