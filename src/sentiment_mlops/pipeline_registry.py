"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from sentiment_mlops.pipelines import data_processing, evaluation, feature_engineering, training


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``kedro run`` runs the four training stages."""
    pipelines = {
        "data_processing": data_processing.create_pipeline(),
        "feature_engineering": feature_engineering.create_pipeline(),
        "training": training.create_pipeline(),
        "evaluation": evaluation.create_pipeline(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
