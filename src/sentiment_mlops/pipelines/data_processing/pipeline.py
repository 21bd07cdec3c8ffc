"""The data_processing pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.data_processing.nodes import (
    clean_texts,
    drop_duplicate_texts,
    drop_empty_texts,
    split_dataset,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Drop the chosen source's empty texts, clean the rest, dedupe them, split them.

    ``raw_texts`` (``SentimentSourceDataset``) is already the canonical table of the source
    picked with ``--params source=<name>``.
    """
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
