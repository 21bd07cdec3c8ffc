"""The calibration pipeline: the served model's probabilities, calibrated on validation."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.calibration.nodes import calibrate_model


def create_pipeline(**kwargs) -> Pipeline:
    """Wrap ``sentiment_model`` in a calibrator fitted on ``validation_split``."""
    return Pipeline(
        [
            Node(
                calibrate_model,
                inputs={
                    "sentiment_model": "sentiment_model",
                    "validation_split": "validation_split",
                    "calibration": "params:calibration",
                },
                outputs="calibrated_sentiment_model",
                name="calibrate_model",
            )
        ],
        tags="calibration",
    )
