"""The training pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.training.nodes import select_best_candidate, tune_candidates


def create_pipeline(**kwargs) -> Pipeline:
    """Tune every candidate (nested MLflow runs), rank them on validation, keep the best."""
    return Pipeline(
        [
            Node(
                tune_candidates,
                inputs={
                    "train_split": "train_split",
                    "validation_split": "validation_split",
                    "feature_pipeline": "feature_pipeline",
                    "feature_grid": "feature_grid",
                    "candidates": "params:candidates",
                    "extra_candidates": "params:extra_candidates",
                    "search": "params:search",
                    "cleaning": "params:cleaning",
                },
                outputs=["candidate_models", "model_comparison"],
                name="tune_candidates",
            ),
            Node(
                select_best_candidate,
                inputs={
                    "candidate_models": "candidate_models",
                    "model_comparison": "model_comparison",
                },
                outputs="sentiment_model",
                name="select_best_candidate",
            ),
        ],
        tags="training",
    )
