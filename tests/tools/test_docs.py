"""The mkdocs site builds with ``--strict``: no broken link, no docstring mkdocstrings cannot render,
no missing included file; what it includes or generates matches the code and the results. The
results table of the README and the docs is the one ``scripts/results_table.py`` generates."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.settings import Settings
from tests.tools.conftest import PROJECT_ROOT, VENV_BIN

RESULTS = PROJECT_ROOT / "benchmarks" / "results"


def _load_results_table():
    """``scripts/results_table.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "results_table", PROJECT_ROOT / "scripts" / "results_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_table = _load_results_table()


@pytest.fixture(scope="module")
def site(tmp_path_factory, viz_build) -> Path:
    """``mkdocs build --strict`` of a copy, so the checkout's docs/ and site/ are left alone."""
    root = tmp_path_factory.mktemp("docs_build")
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", root)
    shutil.copytree(PROJECT_ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("viz"))
    # What mkdocs.yml's hook and snippets read, relative to the project root.
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


@pytest.mark.integration
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
        "development",
        "troubleshooting",
        "experiments/airline",
        "experiments/semeval",
        "experiments/imdb",
        "experiments/networks",
        "experiments/serving",
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


@pytest.mark.integration
def test_docs_openapi_schema_is_the_apps(site):
    assert json.loads((site / "openapi.json").read_text()) == create_app().openapi()
    assert 'href="../openapi.json"' in (site / "api/index.html").read_text()


@pytest.mark.integration
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


@pytest.mark.integration
def test_docs_experiment_pages_include_the_measured_results(site):
    quality = json.loads((RESULTS / "quality.json").read_text())
    assert quality, "benchmarks/results/quality.json holds no result"
    for source, result in quality.items():
        text = page_text(site, f"experiments/{source}")
        assert "--8<--" not in text, f"a snippet marker was left in experiments/{source}"
        assert result["command"] in text, source
        for row in result["comparison"]:
            assert f"{row['val_macro_f1']:.4f}" in text, (source, row["model"])
    text = page_text(site, "experiments/networks")
    deep_rows = [
        row
        for path in sorted(RESULTS.glob("deep_*.json"))
        for row in json.loads(path.read_text())["results"]
    ]
    assert deep_rows, "benchmarks/results holds no deep_*.json"
    for row in deep_rows:
        assert f"{row['macro_f1']:.3f} {row['accuracy']:.3f} {row['macro_recall']:.3f}" in text


def _table_between_markers(text: str) -> str:
    return text.split(results_table.START)[1].split(results_table.END, maxsplit=1)[0].strip()


@pytest.mark.unit
def test_readme_results_table_is_the_generated_one():
    generated = results_table.results_table(*results_table.load_results())
    assert "| airline + pretrained |" in generated  # both runs, in one table
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert _table_between_markers(readme) == generated, (
        "README.md's results table is stale: run `python scripts/results_table.py --write`"
    )
    for page in results_table.marked_files()[1:]:
        assert _table_between_markers(page.read_text()) == generated, page


@pytest.mark.unit
def test_results_table_takes_each_sources_newest_pretrained_run(tmp_path):
    quality = json.loads((RESULTS / "quality.json").read_text())
    (tmp_path / "quality.json").write_text(json.dumps(quality))
    airline = quality["airline"]
    runs = {  # folder: {source: finished_at}
        "pretrained": {"airline": "2026-12-07 01:15 UTC", "imdb": "2026-12-07 08:39 UTC"},
        "pretrained_imdb_full": {"imdb": "2026-12-07 20:42 UTC"},
        "pretrained_imdb_older": {"imdb": "2026-12-06 23:59 UTC"},
    }
    for folder, finished in runs.items():
        (tmp_path / folder).mkdir()
        results = {
            source: {**airline, "finished_at": at, "command": f"run of {folder}"}
            for source, at in finished.items()
        }
        (tmp_path / folder / "quality.json").write_text(json.dumps(results))
    plain, pretrained = results_table.load_results(tmp_path)
    assert plain == quality
    assert {source: run["command"] for source, run in pretrained.items()} == {
        "airline": "run of pretrained",
        "imdb": "run of pretrained_imdb_full",
    }


@pytest.mark.unit
def test_results_table_check_finds_a_hand_edited_table(tmp_path):
    quality = json.loads((RESULTS / "quality.json").read_text())
    table = results_table.results_table(quality)
    (tmp_path / "docs").mkdir()
    readme = tmp_path / "README.md"
    marked = f"# Title\n\n{results_table.START}\nold\n{results_table.END}\n\nEnd.\n"
    readme.write_text(results_table.with_table(marked, table, readme))
    page = tmp_path / "docs" / "index.md"
    page.write_text(readme.read_text().replace("| airline |", "| airline (typed) |"))
    (tmp_path / "docs" / "unmarked.md").write_text("No table here.\n")
    assert results_table.stale_files(table, tmp_path) == [page]
    rewritten = results_table.with_table(page.read_text(), table, page)
    assert rewritten == readme.read_text()


@pytest.mark.unit
def test_results_table_refuses_a_file_without_both_markers(tmp_path):
    path = tmp_path / "README.md"
    with pytest.raises(ValueError, match="expected one <!-- results:start -->"):
        results_table.with_table(f"{results_table.START}\nno end\n", "| table |", path)
