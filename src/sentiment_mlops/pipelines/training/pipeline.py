"""The training pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.training.nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    """Fit the configured classifier on the balanced training features."""
    return Pipeline(
        [
            Node(
                train_model,
                inputs={
                    "features": "model_input_features",
                    "labels": "model_input_labels",
                    "sample_weights": "model_input_weights",
                    "model": "params:model",
                },
                outputs="classifier",
                name="train_model",
            ),
        ],
        tags="training",
    )
