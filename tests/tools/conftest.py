"""A small, real copy of the project for the tools people look at (viz, MLflow UI, notebooks, docs).

One session-scoped project in a temporary directory: the committed ``conf/``, ``notebooks/`` and
``pyproject.toml``, a stratified sample of every source (read with the project's own
``SentimentSourceDataset`` from ``$SENTIMENT_DATA_MIRROR``, never committed), a real
``kedro run`` on it with a temporary SQLite MLflow store, which registers the model as
``sentiment`` version 1 with the ``champion`` alias.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.support.ui import WebDriverWait

from sentiment_mlops._testing.servers import ServerProcess, start_server
from sentiment_mlops.datasets import SentimentSourceDataset

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
T = TypeVar("T")
SAMPLE_ROWS = {"airline": 1500}  # enough for a model whose mistakes mean something
DEFAULT_SAMPLE_ROWS = 300
REGISTERED_MODEL = "sentiment"
CHAMPION_ALIAS = "champion"
EXPERIMENT = "sentiment_mlops"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SERVER_START_TIMEOUT_S = 120


def serve(sample_project: dict, command: list[str], ready_url: str) -> ServerProcess:
    """A server (kedro-viz, the MLflow UI, JupyterLab) run in the sample project, once
    ``ready_url`` answers; use it in a ``with`` block to stop its process group afterwards."""
    return start_server(
        command,
        ready_url,
        timeout=SERVER_START_TIMEOUT_S,
        cwd=sample_project["path"],
        env=sample_project["env"],
    )


def tool_env(project: Path, tracking_uri: str) -> dict[str, str]:
    """Environment for a CLI run inside the sample project: no telemetry, the temp MLflow store."""
    env = dict(os.environ)
    env.update(
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_TRACKING_URI=tracking_uri,
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        # Jupyter keeps kernel specs and runtime files per user: keep them inside the sample.
        JUPYTER_DATA_DIR=str(project / ".jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(project / ".jupyter-runtime"),
        IPYTHONDIR=str(project / ".ipython"),
    )
    return env


def _stratified_sample(frame: pd.DataFrame, label_column: str, rows: int) -> pd.DataFrame:
    share = min(1.0, rows / len(frame))
    return frame.groupby(label_column, group_keys=False).sample(frac=share, random_state=0)


def _write_source_samples(project: Path) -> dict[str, dict]:
    """Sample every source into data/01_raw/samples/<name>.csv; return the catalog entries."""
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    parameters = yaml.safe_load(
        (PROJECT_ROOT / "conf/base/parameters_data_processing.yml").read_text()
    )
    samples_dir = project / "data/01_raw/samples"
    samples_dir.mkdir(parents=True)
    entries = {}
    for name, entry in catalog["_raw_sources"].items():
        # raw_dir is the project's (an interpolation); the samples are read from this copy's.
        options = {
            key: value for key, value in entry.items() if key not in ("type", "metadata", "raw_dir")
        }
        raw = SentimentSourceDataset(**options, raw_dir=str(project / "data/01_raw")).load()
        label_column = parameters["sources"][name]["label_column"]
        rows = SAMPLE_ROWS.get(name, DEFAULT_SAMPLE_ROWS)
        _stratified_sample(raw, label_column, rows).to_csv(samples_dir / f"{name}.csv", index=False)
        entries[name] = {
            "type": "sentiment_mlops.datasets.SentimentSourceDataset",
            "reader": "csv",
            "files": [{"path": f"samples/{name}.csv"}],
            "metadata": entry.get("metadata"),
        }
    return entries


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A trained copy of the project on sampled data: ``{"path", "tracking_uri", "env"}``."""
    if not os.environ.get("SENTIMENT_DATA_MIRROR"):
        pytest.fail(
            "SENTIMENT_DATA_MIRROR is not set: point it at the raw data mirror "
            "(for example SENTIMENT_DATA_MIRROR=../shared/data), as .ci/run does."
        )
    project = tmp_path_factory.mktemp("sample_project")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project)
    shutil.copytree(PROJECT_ROOT / "conf/base", project / "conf/base")
    shutil.copytree(PROJECT_ROOT / "notebooks", project / "notebooks")
    # The package is imported from the checkout (installed editable); Kedro only checks that
    # the project's source folder exists, and refuses a symlink that leaves the project.
    (project / "src").mkdir()
    (project / "conf/local").mkdir()
    for layer in sorted(p.name for p in (PROJECT_ROOT / "data").iterdir() if p.is_dir()):
        (project / "data" / layer).mkdir(parents=True)
    samples = _write_source_samples(project)
    # Same selection rule as conf/base: `--params source=<name>` picks one sample.
    local_catalog = {
        "_samples": samples,
        "raw_texts": "${sentiment_source:${_samples},"
        "${runtime_params:source,${globals:default_source}}}",
    }
    (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(local_catalog))
    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    env = tool_env(project, tracking_uri)
    subprocess.run([str(VENV_BIN / "kedro"), "run"], cwd=project, env=env, check=True, timeout=600)
    # The run itself registered the packaged model and gave it the alias (PromotionHook).
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version) == "1"
    yield {"path": project, "tracking_uri": tracking_uri, "env": env}


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Debian's headless chromium, driven by Debian's chromedriver (no browser download)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(
            f"{missing} not found: install the Debian packages in system-packages.txt "
            "(`make system-packages`)."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # chromium refuses to run as root with its sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the current page under artifacts/screenshots/ (git-ignored, kept by CI)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"chromium could not write {path}"
    return path


def wait_until(  # noqa: PLR0913 - the wait, and what to leave behind when it fails
    driver: webdriver.Chrome,
    condition: Callable[[webdriver.Chrome], T],
    *,
    timeout: float,
    poll: float,
    failure_screenshot: str,
    failure: Callable[[], str],
) -> T:
    """``condition``'s first truthy value; past ``timeout``, a screenshot of the page (named
    ``failure_screenshot``) and a test failure with the message ``failure()`` gives then."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=poll).until(condition)
    except TimeoutException:
        screenshot(driver, failure_screenshot)
        pytest.fail(failure())


def texts_of(driver: webdriver.Chrome, css: str) -> list[str]:
    """Text of every element matching ``css`` (textContent, so SVG and off-screen text count)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim());",
        css,
    )


@pytest.fixture(scope="session")
def viz_build(sample_project) -> Path:
    """``kedro viz build --include-previews`` of the trained sample project (what `make docs` uses)."""
    subprocess.run(
        [str(VENV_BIN / "kedro"), "viz", "build", "--include-previews"],
        cwd=sample_project["path"],
        env=sample_project["env"],
        check=True,
        timeout=300,
    )
    return sample_project["path"] / "build"
