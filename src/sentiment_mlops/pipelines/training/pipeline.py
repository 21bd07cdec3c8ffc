"""The training pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.training.nodes import assemble_sentiment_model, train_model


def create_pipeline(**kwargs) -> Pipeline:
    """Fit the classifier, then assemble the raw-text-to-probabilities model."""
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
            Node(
                assemble_sentiment_model,
                inputs={
                    "cleaning": "params:cleaning",
                    "vectorizer": "vectorizer",
                    "classifier": "classifier",
                },
                outputs="sentiment_model",
                name="assemble_sentiment_model",
            ),
        ],
        tags="training",
    )
