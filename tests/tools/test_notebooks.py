"""Every notebook runs top to bottom on the sample project, and is committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.tools.conftest import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.unit
def test_the_notebooks_exist():
    assert {path.name for path in NOTEBOOKS} >= {"exploration.ipynb", "error_analysis.ipynb"}


@pytest.mark.unit
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} keep outputs; strip them with "
        f"`.venv/bin/nbstripout notebooks/*.ipynb` (or `nbstripout --install` once)"
    )


@pytest.mark.system
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(sample_project, path: Path):
    notebooks = sample_project["path"] / "notebooks"
    notebook = nbformat.read(notebooks / path.name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebooks)}},
    )
    # A failing cell raises CellExecutionError naming the cell and its traceback.
    client.execute(env=sample_project["env"])
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert not errors
    assert all(
        cell.execution_count is not None for cell in notebook.cells if cell.cell_type == "code"
    )
