"""The feature_engineering pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Build the (vectorizer, sampler) steps and their search space for the model search."""
    return Pipeline(
        [
            Node(
                build_feature_pipeline,
                inputs={"vectorizer": "params:vectorizer", "imbalance": "params:imbalance"},
                outputs="feature_pipeline",
                name="build_feature_pipeline",
            ),
            Node(
                build_feature_grid,
                inputs={
                    "feature_search": "params:feature_search",
                    "imbalance": "params:imbalance",
                },
                outputs="feature_grid",
                name="build_feature_grid",
            ),
        ],
        tags="feature_engineering",
    )
