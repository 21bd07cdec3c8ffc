"""The monitoring pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.monitoring.nodes import (
    class_mix_drift,
    confidence_drift,
    feedback_quality,
    input_drift,
    latest_feedback,
    mlflow_metrics,
    plot_drift_report,
    predictions_in_window,
    recommend_retraining,
)
from sentiment_mlops.pipelines.monitoring.served import (
    predict_reference,
    reference_texts,
    served_test_macro_f1,
    version_tags,
)


def create_pipeline(**kwargs) -> Pipeline:
    """A time window of the prediction log against the served version's training data:
    class mix, input and confidence drift, feedback quality, the report and the decision
    (``drift_metrics.retrain_recommended``), logged to MLflow against the served version."""
    return Pipeline(
        [
            Node(
                predictions_in_window,
                inputs={"prediction_log": "prediction_log", "window": "params:monitoring.window"},
                outputs="window_predictions",
                name="predictions_in_window",
            ),
            Node(latest_feedback, "prediction_feedback", "latest_feedback", name="latest_feedback"),
            Node(reference_texts, "served_reference", "reference_texts", name="reference_texts"),
            Node(
                predict_reference,
                "served_reference",
                "reference_predictions",
                name="predict_reference",
            ),
            Node(
                served_test_macro_f1,
                "served_reference",
                "served_test_macro_f1",
                name="served_test_macro_f1",
            ),
            Node(
                class_mix_drift,
                inputs={
                    "window_predictions": "window_predictions",
                    "reference_predictions": "reference_predictions",
                },
                outputs="class_mix_drift",
                name="class_mix_drift",
            ),
            Node(
                input_drift,
                inputs={
                    "window_predictions": "window_predictions",
                    "reference": "reference_texts",
                    "cleaning": "params:cleaning",
                    "top_k": "params:monitoring.new_tokens_top_k",
                },
                outputs=["input_drift", "new_frequent_tokens"],
                name="input_drift",
            ),
            Node(
                confidence_drift,
                inputs={
                    "window_predictions": "window_predictions",
                    "reference_predictions": "reference_predictions",
                },
                outputs="confidence_drift",
                name="confidence_drift",
            ),
            Node(
                feedback_quality,
                inputs={
                    "window_predictions": "window_predictions",
                    "feedback": "latest_feedback",
                    "min_feedback": "params:monitoring.min_feedback",
                },
                outputs="feedback_quality",
                name="feedback_quality",
            ),
            Node(
                recommend_retraining,
                inputs={
                    "class_mix": "class_mix_drift",
                    "input_drift": "input_drift",
                    "confidence": "confidence_drift",
                    "feedback": "feedback_quality",
                    "served_test_macro_f1": "served_test_macro_f1",
                    "window_predictions": "window_predictions",
                    "monitoring": "params:monitoring",
                },
                outputs="drift_metrics",
                name="recommend_retraining",
            ),
            Node(
                plot_drift_report,
                inputs={
                    "drift_metrics": "drift_metrics",
                    "window_predictions": "window_predictions",
                    "reference_predictions": "reference_predictions",
                    "reference": "reference_texts",
                    "new_tokens": "new_frequent_tokens",
                },
                outputs="drift_report_plot",
                name="plot_drift_report",
            ),
            Node(mlflow_metrics, "drift_metrics", "monitoring_mlflow_metrics", name="log_metrics"),
            Node(
                version_tags,
                inputs={"served_reference": "served_reference", "drift_metrics": "drift_metrics"},
                outputs="served_version_tags",
                name="tag_served_version",
            ),
        ],
        tags="monitoring",
    )
