"""``kedro mlflow ui`` (what ``make mlflow-ui`` runs) on the sample project's store, in chromium.

What the page must show is read from the same store with MLflow's client: the experiment,
its runs, the nested candidate runs under the training run, and the registered model with its
``champion`` alias.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from selenium.webdriver.common.by import By

from sentiment_mlops.mlflow_registry import CHAMPION_ALIAS
from sentiment_mlops.mlflow_registry import REGISTERED_MODEL_NAME as REGISTERED_MODEL
from tests.support.servers import free_port
from tests.tools.conftest import (
    EXPERIMENT,
    VENV_BIN,
    screenshot,
    serve,
    wait_until,
)

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def mlflow_ui_url(sample_project) -> str:
    port = free_port()
    command = [str(VENV_BIN / "kedro"), "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with serve(sample_project, command, f"{url}/health"):
        yield url


def _wait_for_text(browser, wanted: set[str], page: str) -> None:
    def missing(driver) -> set[str]:
        body = driver.execute_script("return document.body ? document.body.innerText : '';")
        return {text for text in wanted if text not in body}

    wait_until(
        browser,
        lambda driver: not missing(driver),
        timeout=60,
        poll=1,
        failure_screenshot=f"mlflow-ui-{page}-failed",
        failure=lambda: f"The MLflow UI {page} page never showed {sorted(missing(browser))}",
    )


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


def _candidate_runs(tracking_uri: str) -> tuple[Run, dict[str, str]]:
    """The latest training run and its nested runs as ``{run_id: run_name}``, from the store."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    children = [
        run
        for run in client.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" in run.data.tags
    ]
    assert children, "the training run logged no nested candidate run"
    # search_runs lists the newest first: the candidates of the latest training run.
    parent_id = children[0].data.tags["mlflow.parentRunId"]
    children = [run for run in children if run.data.tags["mlflow.parentRunId"] == parent_id]
    # One child per candidate model, named after it (the `candidate` tag).
    assert all(run.info.run_name == run.data.tags.get("candidate") for run in children)
    return client.get_run(parent_id), {run.info.run_id: run.info.run_name for run in children}


def _run_rows(browser) -> dict[str, str]:
    """``{run_id: run name}`` of every row the runs table renders (its name cell's link)."""
    return browser.execute_script(
        """
        const rows = {};
        for (const row of document.querySelectorAll('div[role=row][row-id]')) {
          const id = row.getAttribute('row-id');
          const link = row.querySelector(`a[href$="/runs/${id}"]`);
          if (link) rows[id] = link.textContent.trim();
        }
        return rows;
        """
    )


def test_mlflow_ui_unfolds_the_nested_candidate_runs(sample_project, mlflow_ui_url, browser):
    parent, candidates = _candidate_runs(sample_project["tracking_uri"])
    parent_id = parent.info.run_id
    # The UI remembers expanded rows in localStorage: start from its default view, cleared
    # from a plain page of the same origin so the app cannot write its state back on unload.
    browser.get(f"{mlflow_ui_url}/health")
    browser.execute_script("window.localStorage.clear();")
    browser.get(f"{mlflow_ui_url}/#/experiments/{parent.info.experiment_id}/runs")
    expand = f'div[role=row][row-id="{parent_id}"] [col-id="attributes.`Run Name`"] button'
    toggle = wait_until(
        browser,
        lambda driver: driver.find_element(By.CSS_SELECTOR, expand),
        timeout=60,
        poll=1,
        failure_screenshot="mlflow-ui-nested-runs-failed",
        failure=lambda: "The runs table never showed the training run with an expand button",
    )
    folded = _run_rows(browser)
    assert parent_id in folded and not candidates.keys() & folded.keys(), (
        f"the candidate runs should start folded under the training run; rows: {folded}"
    )
    toggle.click()

    def shown(driver) -> dict[str, str]:
        rows = _run_rows(driver)
        return {run_id: rows.get(run_id) for run_id in candidates}

    wait_until(
        browser,
        lambda driver: shown(driver) == candidates,
        timeout=30,
        poll=0.5,
        failure_screenshot="mlflow-ui-nested-runs-failed",
        failure=lambda: (
            f"After expanding the training run the table showed {shown(browser)}, "
            f"expected the candidate runs {candidates}"
        ),
    )
    screenshot(browser, "mlflow-ui-nested-runs")


def test_mlflow_ui_links_a_candidate_run_to_its_parent(sample_project, mlflow_ui_url, browser):
    parent, candidates = _candidate_runs(sample_project["tracking_uri"])
    run_id, name = min(candidates.items(), key=lambda item: item[1])
    browser.get(f"{mlflow_ui_url}/#/experiments/{parent.info.experiment_id}/runs/{run_id}")
    _wait_for_text(browser, {name, "Parent run", parent.info.run_name}, "candidate-run")
    parent_links = browser.find_elements(By.CSS_SELECTOR, f'a[href$="/runs/{parent.info.run_id}"]')
    assert parent.info.run_name in {link.text.strip() for link in parent_links}
    screenshot(browser, "mlflow-ui-candidate-run")


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
