"""The mkdocs site builds with ``--strict``: no broken link, no docstring mkdocstrings cannot render,
no missing included file; what it includes or generates matches the code and the results."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.settings import Settings
from tests.tools.conftest import PROJECT_ROOT, VENV_BIN

pytestmark = pytest.mark.integration

RESULTS = PROJECT_ROOT / "benchmarks" / "results"


@pytest.fixture(scope="module")
def site(tmp_path_factory, viz_build) -> Path:
    """``mkdocs build --strict`` of a copy, so the checkout's docs/ and site/ are left alone."""
    root = tmp_path_factory.mktemp("docs_build")
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", root)
    shutil.copytree(PROJECT_ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("viz"))
    # What mkdocs.yml's hook and snippets read, relative to the project root.
    shutil.copy(PROJECT_ROOT / "README.md", root)
    for folder in ("src", "scripts", "benchmarks"):
        (root / folder).symlink_to(PROJECT_ROOT / folder)
    shutil.copytree(viz_build, root / "docs/viz")  # what `make docs` puts there
    result = subprocess.run(
        [str(VENV_BIN / "mkdocs"), "build", "--strict", "--site-dir", str(root / "site")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "site"


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page's article, whitespace collapsed."""
    markup = (site / page / "index.html").read_text()
    article = markup[markup.index("<article") : markup.index("</article>")]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", article)).split())


def test_docs_build_strictly_with_the_static_viz(site):
    for page in (
        "getting_started",
        "architecture",
        "data_sources",
        "configuration",
        "models",
        "api",
        "s3_dvc_mlflow",
        "docker_aws",
        "tools",
        "troubleshooting",
    ):
        assert (site / page / "index.html").is_file(), page
    reference = (site / "reference/index.html").read_text()
    assert "TextCleaner" in reference and "predict_frame" in reference
    architecture = (site / "architecture/index.html").read_text()
    assert (
        "kedro-viz.png" in architecture
        and (site / "architecture/../images/kedro-viz.png").is_file()
    )
    assert (site / "viz/index.html").is_file()


def test_docs_openapi_schema_is_the_apps(site):
    assert json.loads((site / "openapi.json").read_text()) == create_app().openapi()
    assert 'href="../openapi.json"' in (site / "api/index.html").read_text()


def test_docs_api_page_covers_every_route_and_setting(site):
    text = page_text(site, "api")
    routes = {
        f"{method.upper()} {path}"
        for path, item in create_app().openapi()["paths"].items()
        for method in item
    }
    assert {route for route in routes if route not in text} == set()
    variables = {f"SENTIMENT_{name.upper()}" for name in Settings.model_fields}
    assert {variable for variable in variables if variable not in text} == set()


def test_docs_models_page_includes_the_measured_results(site):
    text = page_text(site, "models")
    assert "--8<--" not in text, "a snippet marker was left in the page"
    quality = json.loads((RESULTS / "quality.json").read_text())
    assert quality, "benchmarks/results/quality.json holds no result"
    for result in quality.values():
        assert result["command"] in text
        for row in result["comparison"]:
            assert f"{row['val_macro_f1']:.4f}" in text, row["model"]
    deep_rows = [
        row
        for path in sorted(RESULTS.glob("deep_*.json"))
        for row in json.loads(path.read_text())["results"]
    ]
    assert deep_rows, "benchmarks/results holds no deep_*.json"
    for row in deep_rows:
        assert f"{row['macro_f1']:.3f} {row['accuracy']:.3f} {row['macro_recall']:.3f}" in text
