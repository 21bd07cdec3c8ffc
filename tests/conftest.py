"""Fixtures shared by the whole suite.

Real data only: small fixtures are sampled at test time from the public datasets, found the
way the project finds them (data/01_raw, then ``$SENTIMENT_DATA_MIRROR``, then the pinned
URL; ``SENTIMENT_DATA_MIRROR=../shared/data`` in CI), never committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from mlflow.tracking import MlflowClient
from sklearn.model_selection import train_test_split

from sentiment_mlops.datasets.raw_files import RawFile, resolve_raw_file
from sentiment_mlops.settings import CONFIG_LOADER_ARGS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def raw_source_files(source: str, key: str = "files") -> list[Path]:
    """Local, verified paths of a source's raw files, as its catalog entry declares them."""
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        runtime_params={"source": source},
        **{**CONFIG_LOADER_ARGS, "default_run_env": "base"},
    )
    entry = loader["catalog"]["raw_texts"]
    return [
        resolve_raw_file(RawFile(**spec), PROJECT_ROOT / "data" / "01_raw") for spec in entry[key]
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


# ---- A real, small training run shared by the inference, API and container tests ----
# It samples ~1,500 airline tweets from ``$SENTIMENT_DATA_MIRROR`` at test time, runs the default
# ``kedro run`` (data processing -> training -> calibration -> evaluation, then kedro-mlflow's
# model logging) in a fresh process inside a temporary directory with a temporary SQLite MLflow
# store, and gives the registered version the ``champion`` alias, as the registry would.
# ``train_small_model(..., parameters=...)`` overrides parameters (conf/local) for other runs.

SAMPLE_ROWS = 1500
MODEL_NAME = "sentiment"

# Runs a Kedro session with the temporary directory as the project path: Kedro resolves the
# catalog's relative data paths against it, so nothing is written into the checkout.
_RUN_SESSION = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project, pipeline, params = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline])
    """
)

# Loads a registered model with MLflow alone (no project, no Kedro session) and predicts.
_LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys, mlflow, pandas as pd
    texts = pd.read_csv(sys.argv[1])["text"]
    model = mlflow.pyfunc.load_model(sys.argv[3])
    model.predict(pd.DataFrame({"text": texts})).to_parquet(sys.argv[2])
    """
)


@dataclass(frozen=True)
class TrainedModel:
    """Where the small training run left its outputs."""

    workdir: Path
    tracking_uri: str
    version: str
    run_id: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for child processes that use this run's MLflow store."""
        return {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri, **extra}

    def kedro_run(self, pipeline: str, params: dict[str, str] | None = None, **env: str) -> str:
        """``kedro run --pipelines <pipeline>`` in a fresh process; returns its log."""
        return run_session(self.workdir, pipeline, params or {}, self.env(**env))

    def packaged_predictions(
        self, texts: list[str], outside: Path, uri: str = f"models:/{MODEL_NAME}@champion"
    ) -> pd.DataFrame:
        """The packaged model's predictions for ``texts``, loaded from the registry by a fresh
        Python process working in ``outside`` (neither the project nor the training dir)."""
        instances, output = outside / "packaged_input.csv", outside / "packaged.parquet"
        pd.DataFrame({"text": texts}).to_csv(instances, index=False)
        subprocess.run(
            [sys.executable, "-c", _LOAD_AND_PREDICT, str(instances), str(output), uri],
            cwd=outside,
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=300,
        )
        return pd.read_parquet(output)


def mirror() -> Path:
    """The shared data mirror (``$SENTIMENT_DATA_MIRROR``, relative to the project root)."""
    return (PROJECT_ROOT / os.environ.get("SENTIMENT_DATA_MIRROR", "../shared/data")).resolve()


def run_session(workdir: Path, pipeline: str, params: dict, env: dict) -> str:
    """Run one Kedro pipeline of the project in a child process; fail with its output."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN_SESSION, str(workdir), pipeline, json.dumps(params)],
        cwd=workdir,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"kedro run --pipelines {pipeline} failed:\n{result.stderr[-5000:]}")
    return result.stderr + result.stdout


def train_small_model(workdir: Path, parameters: dict | None = None) -> TrainedModel:
    """Sample the airline tweets, train, register, and alias the version ``champion``.

    ``parameters`` go to conf/local: top-level keys there replace conf/base's.
    """
    tweets = pd.read_csv(mirror() / "twitter_airline_sentiment" / "Tweets.csv")
    sample = tweets.sample(n=SAMPLE_ROWS, random_state=0)[["text", "airline_sentiment"]]
    sample.to_csv(workdir / "airline_sample.csv", index=False)
    # A copy of the project's metadata and configuration; the code is the installed package.
    shutil.copy(PROJECT_ROOT / "pyproject.toml", workdir / "pyproject.toml")
    (workdir / "src").mkdir()  # bootstrap_project wants it; the package is installed
    conf = workdir / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", conf / "base")
    (conf / "local").mkdir()
    (conf / "local" / "catalog.yml").write_text(
        "raw_texts:\n  type: pandas.CSVDataset\n"
        f"  filepath: {(workdir / 'airline_sample.csv').as_posix()}\n"
    )
    if parameters:
        (conf / "local" / "parameters.yml").write_text(yaml.safe_dump(parameters))
    tracking_uri = f"sqlite:///{(workdir / 'mlflow.db').as_posix()}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    run_session(workdir, "__default__", {}, env)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    if len(versions) != 1:
        raise AssertionError(f"expected one registered version, got {len(versions)}")
    version = versions[0]
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    return TrainedModel(workdir, tracking_uri, str(version.version), version.run_id)


_TRAINED: dict[str, TrainedModel] = {}


def shared_trained_model(tmp_path_factory) -> TrainedModel:
    """One training run per test session, whichever test directory asks first."""
    if "model" not in _TRAINED:
        _TRAINED["model"] = train_small_model(tmp_path_factory.mktemp("trained_model"))
    return _TRAINED["model"]
