"""Fixtures shared by the whole suite.

Real data only: small fixtures are sampled at test time from the public datasets, found the
way the project finds them (data/01_raw, then ``$SENTIMENT_DATA_MIRROR``, then the pinned
URL; ``SENTIMENT_DATA_MIRROR=../shared/data`` in CI), never committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from sklearn.model_selection import train_test_split

from sentiment_mlops.datasets.raw_files import RawFile, resolve_raw_file
from sentiment_mlops.datasets.sentiment_source_dataset import SourceSpec, canonical_table
from sentiment_mlops.settings import CONFIG_LOADER_ARGS
from tests.support import projects
from tests.support.projects import PROJECT_ROOT, TrainedProject

pytest_plugins = ["tests.support.tiers"]


@pytest.fixture(scope="session", autouse=True)
def serving_log_outside_the_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps created in the test process log predictions and feedback in a temporary folder,
    not in the project's data/ (their default, relative to the working directory)."""
    root = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIMENT_PREDICTION_LOG_DIR", str(root / "predictions"))
        patch.setenv("SENTIMENT_FEEDBACK_DIR", str(root / "feedback"))
        yield


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite MLflow store, current for one test only (also for child processes)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    # MLflow remembers the active experiment id across stores; that id may not exist here.
    mlflow.set_experiment("tests")
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)  # later tests must not write into (or resolve from) this one


def source_declaration(source: str) -> dict:
    """The block of ``source`` under ``_sources`` in conf/base/catalog.yml, resolved."""
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        runtime_params={"source": source},
        **{**CONFIG_LOADER_ARGS, "default_run_env": "base"},
    )
    return loader["catalog"]["raw_texts"]["sources"][source]


def raw_source_files(source: str, key: str = "files") -> list[Path]:
    """Local, verified paths of a source's raw files, as its catalog block declares them."""
    return [
        resolve_raw_file(RawFile(**spec), PROJECT_ROOT / "data" / "01_raw")
        for spec in source_declaration(source)[key]
    ]


def stratified_sample(
    frame: pd.DataFrame, label_column: str, size: int, seed: int = 0
) -> pd.DataFrame:
    """A class-stratified random sample of ``size`` rows, in the original column layout."""
    sample, _ = train_test_split(
        frame, train_size=size, stratify=frame[label_column], random_state=seed
    )
    return sample.sort_index()


@pytest.fixture(scope="session")
def airline_raw() -> pd.DataFrame:
    """The full airline file, as the catalog's csv reader reads it."""
    (path,) = raw_source_files("airline")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def airline_sample(airline_raw: pd.DataFrame) -> pd.DataFrame:
    """~2,000 airline tweets, stratified by label: enough to train, quick to run."""
    return stratified_sample(airline_raw, "airline_sentiment", 2000)


@pytest.fixture(scope="session")
def airline_canonical(airline_sample: pd.DataFrame) -> pd.DataFrame:
    """``airline_sample`` as ``raw_texts`` gives it: the canonical table of the airline source."""
    return canonical_table(
        airline_sample, SourceSpec.from_config("airline", source_declaration("airline"))
    )


# ---- The one trained project of the session (tests/support/projects.py) ----


@pytest.fixture(scope="session")
def source_samples() -> dict[str, pd.DataFrame]:
    """A stratified sample of every source, read from the mirror once per session."""
    return projects.source_samples()


@pytest.fixture(scope="session")
def trained_model(
    tmp_path_factory: pytest.TempPathFactory, source_samples: dict[str, pd.DataFrame]
) -> TrainedProject:
    """The session's trained project, on conf/test's small candidate set: every test that needs
    a trained, registered model reads this one."""
    return projects.train_project(tmp_path_factory.mktemp("trained_project"), source_samples)


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of a LocalCluster of 2 single-threaded worker processes on 127.0.0.1, no
    dashboard, shared by the session's Dask tests."""
    from distributed import LocalCluster  # noqa: PLC0415 - only the Dask tests pay for it

    with LocalCluster(
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address
