"""``kedro mlflow ui`` (what ``make mlflow-ui`` runs) on the sample project's store, in chromium.

What the page must show is read from the same store with MLflow's client: the experiment,
its runs, and the registered model with its ``champion`` alias.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from tests.tools.conftest import (
    CHAMPION_ALIAS,
    EXPERIMENT,
    REGISTERED_MODEL,
    VENV_BIN,
    free_port,
    screenshot,
    serve,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mlflow_ui_url(sample_project) -> str:
    port = free_port()
    command = [str(VENV_BIN / "kedro"), "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port)]
    with serve(
        command, f"http://127.0.0.1:{port}/health", sample_project["path"], sample_project["env"]
    ) as url:
        yield url.removesuffix("/health")


def _wait_for_text(browser, wanted: set[str], page: str) -> None:
    def missing(driver) -> set[str]:
        body = driver.execute_script("return document.body ? document.body.innerText : '';")
        return {text for text in wanted if text not in body}

    try:
        WebDriverWait(browser, 60, poll_frequency=1).until(lambda driver: not missing(driver))
    except TimeoutException:
        screenshot(browser, f"mlflow-ui-{page}-failed")
        pytest.fail(f"The MLflow UI {page} page never showed {sorted(missing(browser))}")


def test_mlflow_ui_shows_the_experiment_and_its_runs(sample_project, mlflow_ui_url, browser):
    client = MlflowClient(tracking_uri=sample_project["tracking_uri"])
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    # Nested runs are folded under their parent in the runs table; the top-level ones show.
    top_level = {run.info.run_name for run in runs if "mlflow.parentRunId" not in run.data.tags}
    assert top_level, "the training run left no run in the store"
    browser.get(f"{mlflow_ui_url}/#/experiments/{experiment.experiment_id}/runs")
    _wait_for_text(browser, {EXPERIMENT, *top_level}, "experiment")
    screenshot(browser, "mlflow-ui-experiment")


def test_mlflow_ui_shows_the_registered_champion(sample_project, mlflow_ui_url, browser):
    client = MlflowClient(
        tracking_uri=sample_project["tracking_uri"], registry_uri=sample_project["tracking_uri"]
    )
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    browser.get(f"{mlflow_ui_url}/#/models/{REGISTERED_MODEL}")
    _wait_for_text(
        browser, {REGISTERED_MODEL, CHAMPION_ALIAS, f"Version {champion.version}"}, "model"
    )
    screenshot(browser, "mlflow-ui-registered-model")
