"""The feedback pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.feedback.nodes import labelled_feedback


def create_pipeline(**kwargs) -> Pipeline:
    """Feedback labels and the logged texts they are about -> ``feedback_texts``, the
    ``feedback`` source that ``kedro run --params feedback.include=true`` adds to training."""
    return Pipeline(
        [
            Node(
                labelled_feedback,
                inputs={
                    "prediction_feedback": "prediction_feedback",
                    "prediction_log": "prediction_log",
                },
                outputs="feedback_texts",
                name="labelled_feedback",
            )
        ],
        tags="feedback",
    )
