"""The tools people look at (viz, MLflow UI, notebooks, docs), on the session's trained project,
and the headless browser that looks at them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.projects import PROJECT_ROOT, VENV_BIN, TrainedProject
from tests.support.servers import ServerProcess, start_server

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
T = TypeVar("T")
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


@pytest.fixture(scope="session")
def sample_project(trained_model: TrainedProject) -> dict:
    """The session's trained project (tests/support/projects.py): ``{"path", "tracking_uri",
    "env"}``; a sample of every source, model ``sentiment`` version 1 with ``champion``."""
    return {
        "path": trained_model.workdir,
        "tracking_uri": trained_model.tracking_uri,
        "env": trained_model.env(),
    }


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
