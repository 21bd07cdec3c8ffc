"""The calibration pipeline: the served model, its probabilities calibrated on validation."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.calibration.nodes import calibrate_model, prepare_serving_model


def create_pipeline(**kwargs) -> Pipeline:
    """Prepare ``sentiment_model`` for serving (ONNX Runtime for a fine-tuned transformer),
    then wrap it in a calibrator fitted on ``validation_split``."""
    return Pipeline(
        [
            Node(
                prepare_serving_model,
                inputs={"sentiment_model": "sentiment_model", "serving": "params:serving"},
                outputs="serving_model",
                name="prepare_serving_model",
            ),
            Node(
                calibrate_model,
                inputs={
                    "sentiment_model": "serving_model",
                    "validation_split": "validation_split",
                    "calibration": "params:calibration",
                },
                outputs="calibrated_sentiment_model",
                name="calibrate_model",
            ),
        ],
        tags="calibration",
    )
