"""The mkdocs site builds with ``--strict``: no broken link, no docstring mkdocstrings cannot render."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.tools.conftest import PROJECT_ROOT, VENV_BIN

pytestmark = pytest.mark.integration


def test_docs_build_strictly_with_the_static_viz(tmp_path, viz_build):
    # Built from a copy, so the checkout's docs/ and site/ are left alone.
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", tmp_path)
    shutil.copytree(PROJECT_ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("viz"))
    (tmp_path / "src").symlink_to(PROJECT_ROOT / "src")
    shutil.copytree(viz_build, tmp_path / "docs/viz")  # what `make docs` puts there
    result = subprocess.run(
        [str(VENV_BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    for page in (
        "getting_started",
        "architecture",
        "data_sources",
        "configuration",
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
