"""The data_processing pipeline."""

from kedro.pipeline import Node, Pipeline, pipeline

from sentiment_mlops.pipelines.data_processing.nodes import (
    add_feedback_to_training,
    clean_texts,
    drop_duplicate_texts,
    drop_empty_texts,
    split_dataset,
)


def create_pipeline(include_feedback: bool = False, **kwargs) -> Pipeline:
    """Drop the chosen source's empty texts, clean the rest, dedupe them, split them.

    ``raw_texts`` (``SentimentSourceDataset``) is already the canonical table of the source
    picked with ``--params source=<name>``. With ``include_feedback`` (``--params
    feedback.include=true``) the split's training part becomes ``source_train_split`` and
    the ``feedback`` source (``feedback_texts``) is added to it to make ``train_split``.
    """
    source = _source_pipeline()
    if not include_feedback:
        return source
    return pipeline(source, outputs={"train_split": "source_train_split"}) + Pipeline(
        [
            Node(
                add_feedback_to_training,
                inputs={
                    "source_train": "source_train_split",
                    "validation": "validation_split",
                    "test": "test_split",
                    "feedback_texts": "feedback_texts",
                    "cleaning": "params:cleaning",
                },
                outputs="train_split",
                name="add_feedback_to_training",
            )
        ],
        tags="data_processing",
    )


def _source_pipeline() -> Pipeline:
    return Pipeline(
        [
            Node(
                drop_empty_texts,
                inputs="raw_texts",
                outputs="canonical_texts",
                name="drop_empty_texts",
            ),
            Node(
                clean_texts,
                inputs={"canonical": "canonical_texts", "cleaning": "params:cleaning"},
                outputs="cleaned_texts",
                name="clean_texts",
            ),
            Node(
                drop_duplicate_texts,
                inputs="cleaned_texts",
                outputs="deduplicated_texts",
                name="drop_duplicate_texts",
            ),
            Node(
                split_dataset,
                inputs={"deduplicated": "deduplicated_texts", "split": "params:split"},
                outputs=["train_split", "validation_split", "test_split"],
                name="split_dataset",
            ),
        ],
        tags="data_processing",
    )
