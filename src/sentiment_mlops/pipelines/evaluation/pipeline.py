"""The evaluation pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.metrics import compute_metrics, predict_test_split, uncertainty_threshold
from sentiment_mlops.pipelines.evaluation.nodes import (
    check_uncertainty_on_test,
    comparison_markdown,
    compute_calibration_metrics,
    plot_confusion_matrix,
    plot_fit_time_vs_score,
    plot_model_f1,
    plot_reliability_diagram,
    plot_roc_curves,
    request_promotion,
    to_mlflow_metrics,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Report the candidate comparison; test the selected model once; register it."""
    return Pipeline(
        [
            Node(
                comparison_markdown,
                inputs="model_comparison",
                outputs="model_comparison_markdown",
                name="write_comparison_markdown",
            ),
            Node(
                plot_model_f1,
                inputs="model_comparison",
                outputs="model_f1_plot",
                name="plot_model_f1",
            ),
            Node(
                plot_fit_time_vs_score,
                inputs="model_comparison",
                outputs="fit_time_vs_score_plot",
                name="plot_fit_time_vs_score",
            ),
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
            # Calibration of the served model: ECE before and after, on the same test texts.
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
            # The served model's "uncertain" line, chosen on validation and recorded in the
            # run, so that every registered version carries its own (the service reads it).
            Node(
                predict_test_split,
                inputs={
                    "sentiment_model": "calibrated_sentiment_model",
                    "test_split": "validation_split",
                },
                outputs="calibrated_validation_predictions",
                name="predict_validation_split_calibrated",
            ),
            Node(
                uncertainty_threshold,
                inputs={
                    "predictions": "calibrated_validation_predictions",
                    "min_accuracy": "params:uncertainty.min_accuracy",
                    "min_texts": "params:uncertainty.min_texts",
                },
                outputs="uncertainty_threshold",
                name="choose_uncertainty_threshold",
            ),
            Node(
                to_mlflow_metrics,
                inputs="uncertainty_threshold",
                outputs="mlflow_uncertainty_metrics",
                name="log_uncertainty_threshold_to_mlflow",
            ),
            # ... and whether it keeps its meaning on texts its choice never saw.
            Node(
                check_uncertainty_on_test,
                inputs={
                    "calibrated_test_predictions": "calibrated_test_predictions",
                    "uncertainty_threshold": "uncertainty_threshold",
                },
                outputs="uncertainty_on_test",
                name="check_uncertainty_on_test",
            ),
            Node(
                to_mlflow_metrics,
                inputs="uncertainty_on_test",
                outputs="mlflow_uncertainty_on_test_metrics",
                name="log_uncertainty_on_test_to_mlflow",
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
            Node(
                request_promotion,
                inputs={
                    "metrics": "metrics",
                    "test_split": "test_split",
                    "source": "params:source",
                },
                outputs="promotion_request",
                name="request_promotion",
            ),
        ],
        tags="evaluation",
    )
