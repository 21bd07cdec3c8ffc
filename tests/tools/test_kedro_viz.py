"""``kedro viz run`` on the trained sample project, looked at in a real browser.

The expected node, dataset and layer names come from the project's pipeline registry and
catalog, so every pipeline registered later is checked without touching this test.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest
from kedro.framework.project import pipelines as registered_pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.servers import free_port
from tests.tools.conftest import VENV_BIN, screenshot, serve, texts_of

# Every plotly output of the evaluation: metrics plots and the model comparison charts.
PLOTS = (
    "confusion_matrix_plot",
    "roc_curves_plot",
    "reliability_diagram_plot",
    "model_f1_plot",
    "fit_time_vs_score_plot",
)
# Kedro's data engineering convention, the order the layers must be drawn in.
LAYER_ORDER = [
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
]


def _layer_precedence(pipeline, layer_of: dict[str, str]) -> set[tuple[str, str]]:
    """(a, b) for every layer a whose data flows, through any nodes, into data of layer b.

    Those are the orderings the drawing must respect; layers with no path between them in a
    pipeline (e.g. the test split and the model, both read by the evaluation) have none.
    """
    upstream: dict[str, set[str]] = {}
    for node in pipeline.nodes:  # topologically sorted
        layers = set()
        for name in node.inputs:
            layers |= upstream.get(name, set())
            if name in layer_of:
                layers.add(layer_of[name])
        for name in node.outputs:
            upstream[name] = layers
    return {
        (before, layer_of[name])
        for name, befores in upstream.items()
        if name in layer_of
        for before in befores
        if before != layer_of[name]
    }


def _expected_graph(project) -> dict[str, dict]:
    """Per registered pipeline: node names, dataset names (no parameters), layers and their order."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        catalog = session.load_context().catalog
    expected = {}
    for name, pipeline in registered_pipelines.items():
        datasets = {
            dataset
            for dataset in pipeline.datasets()
            if dataset != "parameters" and not dataset.startswith("params:")
        }
        layer_of = {}
        for dataset in datasets:
            metadata = getattr(catalog.get(dataset), "metadata", None) or {}
            layer = metadata.get("kedro-viz", {}).get("layer")
            if layer:
                layer_of[dataset] = layer
        precedence = _layer_precedence(pipeline, layer_of)
        # The project's layers follow Kedro's convention wherever the data says which is first.
        assert all(LAYER_ORDER.index(a) < LAYER_ORDER.index(b) for a, b in precedence), name
        expected[name] = {
            # kedro-viz labels a node of a modular pipeline without its namespace: the three
            # candidates' nodes each read `check_candidate`, so they are counted.
            "nodes": Counter(
                node.name.removeprefix(f"{node.namespace}.") for node in pipeline.nodes
            ),
            "datasets": datasets,
            "layers": set(layer_of.values()),
            "precedence": precedence,
        }
    return expected


@pytest.fixture(scope="module")
def viz_url(sample_project, browser) -> str:
    port = free_port()
    command = [
        str(VENV_BIN / "kedro"),
        *("viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)),
    ]
    url = f"http://127.0.0.1:{port}"
    with serve(sample_project, command, f"{url}/api/main"):
        hide_feature_hints(browser, url)  # once: the browser remembers it for this address
        yield url


@pytest.mark.system
def test_viz_shows_every_pipeline_with_its_names_and_layers(sample_project, viz_url, browser):
    expected = _expected_graph(sample_project["path"])
    assert {"data_processing", "feature_engineering", "training", "evaluation"} <= set(expected)
    for name, graph in expected.items():
        # Expanded: kedro-viz draws each candidate's modular pipeline as one closed box.
        browser.get(f"{viz_url}/?pid={name}&expandAllPipelines=true")

        def missing(driver, graph=graph) -> dict[str, set[str]]:
            texts = texts_of(driver, ".pipeline-node__text")
            shown = set(texts)
            layers = set(texts_of(driver, ".pipeline-layer-name"))
            return {
                "nodes": set(graph["nodes"] - Counter(texts)),
                "datasets": graph["datasets"] - shown,
                "layers": graph["layers"] - layers,
            }

        try:
            WebDriverWait(browser, 60).until(lambda driver: not any(missing(driver).values()))
        except TimeoutException:
            screenshot(browser, f"kedro-viz-{name}-failed")
            pytest.fail(f"kedro viz did not render, for pipeline '{name}': {missing(browser)}")
        drawn = [layer for layer in texts_of(browser, ".pipeline-layer-name") if layer]
        misordered = {(a, b) for a, b in graph["precedence"] if drawn.index(a) > drawn.index(b)}
        assert not misordered, f"'{name}' draws layers {drawn}, against the data flow"
        if name == "__default__":  # the whole flow: every layer, in the convention's order
            assert drawn == [layer for layer in LAYER_ORDER if layer in graph["layers"]]
        screenshot(browser, "kedro-viz" if name == "__default__" else f"kedro-viz-{name}")


@pytest.mark.system
@pytest.mark.parametrize("plot", PLOTS)
def test_viz_previews_the_evaluation_plots(sample_project, viz_url, browser, plot):
    browser.get(f"{viz_url}/?pid=evaluation")

    def click_node_and_find_preview(driver):
        # The graph re-renders while it lays out, so find and click the node on every try.
        driver.execute_script(
            """
            const node = Array.from(document.querySelectorAll('.pipeline-node'))
              .find(n => n.textContent.trim() === arguments[0]);
            if (node) node.dispatchEvent(new MouseEvent('click', {bubbles: true}));
            """,
            plot,
        )
        return driver.find_elements(By.CSS_SELECTOR, ".pipeline-metadata .js-plotly-plot")

    try:
        WebDriverWait(browser, 60, poll_frequency=1).until(click_node_and_find_preview)
    finally:
        screenshot(browser, f"kedro-viz-preview-{plot}")


def hide_feature_hints(browser, viz_url: str) -> None:
    """Close the "new feature" pop-up, if kedro-viz shows one within 5 s, so screenshots show
    the graph."""
    browser.get(viz_url)
    with contextlib.suppress(TimeoutException):
        WebDriverWait(browser, 5).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, ".feature-hints__close")
        )[0].click()


@pytest.mark.integration
def test_viz_build_writes_a_static_site_with_previews(viz_build):
    assert (viz_build / "index.html").is_file()
    main = json.loads((viz_build / "api/main").read_text())
    node_ids = {node["name"]: node["id"] for node in main["nodes"]}
    for plot in PLOTS:
        assert plot in node_ids, f"{plot} is not in the static site's graph"
        # --include-previews: the dataset's node page carries its plotly figure.
        page = json.loads((viz_build / "api/nodes" / node_ids[plot]).read_text())
        figure = page.get("preview") or {}
        assert page.get("preview_type") == "PlotlyPreview", f"{plot}: {page.get('preview_type')}"
        assert figure.get("data"), f"{plot}'s preview has no plotly traces"
