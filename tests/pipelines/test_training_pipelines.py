"""The four training-side pipelines, sliced and run on an in-memory catalog (spaceflights pattern).

Parameters come from the project's real conf/base, so this also checks that the
configuration and the node signatures agree.
"""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from sentiment_mlops.pipeline_registry import register_pipelines
from sentiment_mlops.settings import CONFIG_LOADER_ARGS
from sentiment_mlops.text_cleaning import TextCleaner


@pytest.fixture(scope="module")
def parameters(project_root) -> dict:
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "base"}
    )
    return loader["parameters"]


def _catalog(parameters: dict, **data) -> DataCatalog:
    catalog = DataCatalog()
    for name, value in parameters.items():
        catalog[f"params:{name}"] = value
    for name, value in data.items():
        catalog[name] = value
    return catalog


def test_default_parameters_select_airline(parameters):
    assert parameters["source"] == "airline"


def _run(pipeline, catalog: DataCatalog) -> dict:
    """Run and return the free outputs' data (Kedro releases the consumed ones)."""
    return {
        name: dataset.load() for name, dataset in SequentialRunner().run(pipeline, catalog).items()
    }


def _splits(parameters: dict, raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    catalog = _catalog(parameters, raw_texts=raw.assign(origin_split="train"))
    return _run(register_pipelines()["data_processing"], catalog)


def test_data_processing_splits_a_raw_source(parameters, airline_sample):
    splits = _splits(parameters, airline_sample)
    assert sorted(splits) == ["test_split", "train_split", "validation_split"]
    frames = list(splits.values())
    assert [list(split.columns) for split in frames] == [
        ["text", "clean_text", "label", "source"]
    ] * 3
    unique_texts = set(TextCleaner(**parameters["cleaning"]).transform(airline_sample["text"])) - {
        ""
    }
    assert sum(map(len, frames)) == len(unique_texts)
    assert all(set(split["label"]) == {"negative", "neutral", "positive"} for split in frames)


# tracking_uri: every candidate logs a nested MLflow run, here into the test's own store.
def test_feature_to_evaluation_runs_from_splits(parameters, airline_sample, tracking_uri):
    pipelines = register_pipelines()
    splits = _splits(parameters, airline_sample)
    downstream = pipelines["feature_engineering"] + pipelines["training"] + pipelines["evaluation"]
    outputs = _run(
        downstream.filter(to_outputs=["metrics", "confusion_matrix_plot"]),
        _catalog(parameters, **splits),
    )
    confusion = outputs["confusion_matrix_plot"].data[0].z
    assert sum(map(sum, confusion)) == len(splits["test_split"])
    # A 1,400-row training set is small, but the model must beat the majority class (~63 %).
    assert outputs["metrics"]["accuracy"] > 0.68
    assert 0 < outputs["metrics"]["macro_f1"] <= 1
