"""The inference pipeline: raw texts in, label / confidence / per-class scores out.

It is also the pipeline that kedro-mlflow packages with the fitted model after every
training run (see ``pipeline_registry.py``), with ``instances`` as the model's input.
"""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.inference.nodes import score_instances

MODEL_ARTIFACT = "calibrated_sentiment_model"
INPUT_NAME = "instances"


def create_pipeline(**kwargs) -> Pipeline:
    """Score ``instances`` with the calibrated model into ``predictions``."""
    return Pipeline(
        [
            Node(
                score_instances,
                inputs={"sentiment_model": MODEL_ARTIFACT, "instances": INPUT_NAME},
                outputs="predictions",
                name="score_instances",
            )
        ],
        tags="inference",
    )
