"""The evaluation pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.evaluation.nodes import (
    compute_calibration_metrics,
    compute_metrics,
    plot_confusion_matrix,
    plot_reliability_diagram,
    plot_roc_curves,
    predict_test_split,
    to_mlflow_metrics,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Score the test split, then derive metrics and plots from those predictions."""
    return Pipeline(
        [
            Node(
                predict_test_split,
                inputs={"sentiment_model": "sentiment_model", "test_split": "test_split"},
                outputs="test_predictions",
                name="predict_test_split",
            ),
            Node(
                compute_metrics,
                inputs="test_predictions",
                outputs="metrics",
                name="compute_metrics",
            ),
            Node(
                to_mlflow_metrics,
                inputs="metrics",
                outputs="mlflow_metrics",
                name="log_metrics_to_mlflow",
            ),
            Node(
                plot_confusion_matrix,
                inputs="test_predictions",
                outputs="confusion_matrix_plot",
                name="plot_confusion_matrix",
            ),
            Node(
                plot_roc_curves,
                inputs="test_predictions",
                outputs="roc_curves_plot",
                name="plot_roc_curves",
            ),
            # Calibration of the served model (added with the inference issue).
            Node(
                predict_test_split,
                inputs={
                    "sentiment_model": "calibrated_sentiment_model",
                    "test_split": "test_split",
                },
                outputs="calibrated_test_predictions",
                name="predict_test_split_calibrated",
            ),
            Node(
                compute_calibration_metrics,
                inputs={
                    "test_predictions": "test_predictions",
                    "calibrated_test_predictions": "calibrated_test_predictions",
                },
                outputs="calibration_metrics",
                name="compute_calibration_metrics",
            ),
            Node(
                to_mlflow_metrics,
                inputs="calibration_metrics",
                outputs="mlflow_calibration_metrics",
                name="log_calibration_metrics_to_mlflow",
            ),
            Node(
                plot_reliability_diagram,
                inputs={
                    "test_predictions": "test_predictions",
                    "calibrated_test_predictions": "calibrated_test_predictions",
                },
                outputs="reliability_diagram_plot",
                name="plot_reliability_diagram",
            ),
        ],
        tags="evaluation",
    )
