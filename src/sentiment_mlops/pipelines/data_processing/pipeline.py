"""The data_processing pipeline."""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.data_processing.nodes import (
    build_canonical_table,
    clean_texts,
    drop_duplicate_texts,
    drop_empty_texts,
    select_source_spec,
    split_dataset,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Load the chosen source, make it canonical, clean it, dedupe it, split it."""
    return Pipeline(
        [
            Node(
                select_source_spec,
                inputs={"source": "params:source", "sources": "params:sources"},
                outputs="source_spec",
                name="select_source_spec",
            ),
            Node(
                build_canonical_table,
                inputs={"raw": "raw_texts", "source_spec": "source_spec"},
                outputs="canonical_texts",
                name="build_canonical_table",
            ),
            Node(
                drop_empty_texts,
                inputs="canonical_texts",
                outputs="non_empty_texts",
                name="drop_empty_texts",
            ),
            Node(
                clean_texts,
                inputs={"canonical": "non_empty_texts", "cleaning": "params:cleaning"},
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
