"""The four training-side pipelines, sliced and run on an in-memory catalog (spaceflights pattern).

Parameters come from the project's real conf/base (with conf/test's candidates), so this also
checks that the configuration and the node signatures agree.
"""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from sentiment_mlops.pipeline_registry import configured_candidates, register_pipelines
from sentiment_mlops.pipelines.training import create_pipeline as create_training_pipeline
from sentiment_mlops.settings import CONFIG_LOADER_ARGS
from sentiment_mlops.text_cleaning import TextCleaner


@pytest.fixture(scope="module")
def parameters(project_root) -> dict:
    # conf/test's small candidate set over conf/base: every base candidate is built and fitted
    # in tests/pipelines/training/test_candidates_roundtrip.py.
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"),
        env="test",
        **{**CONFIG_LOADER_ARGS, "default_run_env": "base"},
    )
    return loader["parameters"]


def _add_parameters(catalog: DataCatalog, parameters: dict, prefix: str = "") -> None:
    """``params:<key>`` for every key, nested ones too (``params:candidates.nbsvm``), as a
    Kedro session's catalog has them."""
    for name, value in parameters.items():
        catalog[f"params:{prefix}{name}"] = value
        if isinstance(value, dict):
            _add_parameters(catalog, value, f"{prefix}{name}.")


def _catalog(parameters: dict, **data) -> DataCatalog:
    catalog = DataCatalog()
    _add_parameters(catalog, parameters)
    for name, value in data.items():
        catalog[name] = value
    return catalog


@pytest.mark.unit
def test_default_parameters_select_airline(parameters):
    assert parameters["source"] == "airline"


def _run(pipeline, catalog: DataCatalog) -> dict:
    """Run and return the free outputs' data (Kedro releases the consumed ones)."""
    return {
        name: dataset.load() for name, dataset in SequentialRunner().run(pipeline, catalog).items()
    }


def _splits(parameters: dict, canonical: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return _run(register_pipelines()["data_processing"], _catalog(parameters, raw_texts=canonical))


@pytest.mark.integration
def test_data_processing_splits_a_raw_source(parameters, airline_canonical):
    splits = _splits(parameters, airline_canonical)
    assert sorted(splits) == ["test_split", "train_split", "validation_split"]
    frames = list(splits.values())
    assert [list(split.columns) for split in frames] == [
        ["text", "clean_text", "label", "source"]
    ] * 3
    unique_texts = set(
        TextCleaner(**parameters["cleaning"]).transform(airline_canonical["text"])
    ) - {""}
    assert sum(map(len, frames)) == len(unique_texts)
    assert all(set(split["label"]) == {"negative", "neutral", "positive"} for split in frames)


# tracking_uri: every candidate logs a nested MLflow run, here into the test's own store.
@pytest.mark.integration
def test_feature_to_evaluation_runs_from_splits(parameters, airline_canonical, tracking_uri):
    pipelines = register_pipelines()
    splits = _splits(parameters, airline_canonical)
    # The training pipeline of conf/test's candidates (register_pipelines reads KEDRO_ENV's).
    training = create_training_pipeline(configured_candidates(parameters))
    downstream = pipelines["feature_engineering"] + training + pipelines["evaluation"]
    outputs = _run(
        downstream.filter(to_outputs=["metrics", "confusion_matrix_plot"]),
        _catalog(parameters, **splits),
    )
    confusion = outputs["confusion_matrix_plot"].data[0].z
    assert sum(map(sum, confusion)) == len(splits["test_split"])
    # A 1,400-row training set is small, but the model must beat the majority class (~63 %).
    assert outputs["metrics"]["accuracy"] > 0.68
    assert 0 < outputs["metrics"]["macro_f1"] <= 1
