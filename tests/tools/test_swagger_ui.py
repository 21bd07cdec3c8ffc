"""The service's Swagger UI (``/docs``) in chromium, served by the real app on the sample model.

What the page must list is read from the same service's ``/openapi.json``; the example body
of ``POST /predict`` is the one ``PredictRequest`` declares. The Swagger UI files come from
the app itself (fastapi-offline), so the page renders without internet access.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By

from sentiment_mlops.api.schemas import PredictRequest
from tests.api.conftest import start_service
from tests.tools.conftest import screenshot, wait_until

pytestmark = pytest.mark.system


ROUTES = {
    ("POST", "/predict"),
    ("POST", "/predict/batch"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/model"),
    ("GET", "/metrics"),
}


@pytest.fixture(scope="module")
def api_url(sample_project, tmp_path_factory) -> Iterator[str]:
    """``uvicorn sentiment_mlops.api.app:app`` serving the sample project's champion."""
    service = start_service(tmp_path_factory.mktemp("api_cwd"), sample_project["env"])
    yield service.url
    service.stop()


def _operations(browser) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every operation block Swagger UI rendered."""
    pairs = browser.execute_script(
        """
        return Array.from(document.querySelectorAll('#swagger-ui .opblock'), block => [
          block.querySelector('.opblock-summary-method').textContent.trim(),
          block.querySelector('.opblock-summary-path').getAttribute('data-path'),
        ]);
        """
    )
    return {(method, path) for method, path in pairs}


def test_swagger_ui_lists_every_route_and_the_predict_example(api_url, browser):
    schema = httpx.get(f"{api_url}/openapi.json", timeout=30).json()
    documented = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert documented >= ROUTES, f"the OpenAPI schema lacks {ROUTES - documented}"
    browser.get(f"{api_url}/docs")
    wait_until(
        browser,
        lambda driver: _operations(driver) >= documented,
        timeout=60,
        poll=0.5,
        failure_screenshot="swagger-ui-failed",
        failure=lambda: (
            f"Swagger UI at /docs listed {sorted(_operations(browser))}, "
            f"expected {sorted(documented)}"
        ),
    )
    assert _operations(browser) == documented

    predict = browser.find_element(
        By.CSS_SELECTOR, '.opblock-post:has(.opblock-summary-path[data-path="/predict"])'
    )
    predict.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    example_css = ".opblock-section-request-body pre.body-param__example"
    example = wait_until(
        browser,
        lambda _: predict.find_element(By.CSS_SELECTOR, example_css),
        timeout=30,
        poll=0.5,
        failure_screenshot="swagger-ui-failed",
        failure=lambda: "POST /predict opened without an example request body",
    )
    browser.execute_script("arguments[0].scrollIntoView();", predict)  # route, then example
    shown = json.loads(example.get_attribute("textContent"))
    assert shown == PredictRequest.model_json_schema()["examples"][0]
    screenshot(browser, "swagger-ui")
