"""The feature_engineering pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.feature_engineering.nodes import (
    balance_training_data,
    fit_vectorizer,
    vectorize_texts,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Fit the vectorizer on train, vectorize every split, balance the training data."""
    vectorize = [
        Node(
            vectorize_texts,
            inputs={"vectorizer": "vectorizer", "split": f"{split}_split"},
            outputs=f"{split}_features",
            name=f"vectorize_{split}_texts",
        )
        for split in ("train", "validation", "test")
    ]
    return Pipeline(
        [
            Node(
                fit_vectorizer,
                inputs={"train_split": "train_split", "vectorizer": "params:vectorizer"},
                outputs="vectorizer",
                name="fit_vectorizer",
            ),
            *vectorize,
            Node(
                balance_training_data,
                inputs={
                    "train_features": "train_features",
                    "train_split": "train_split",
                    "imbalance": "params:imbalance",
                },
                outputs=["model_input_features", "model_input_labels", "model_input_weights"],
                name="balance_training_data",
            ),
        ],
        tags="feature_engineering",
    )
