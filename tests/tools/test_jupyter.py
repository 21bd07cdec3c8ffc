"""``kedro ipython`` and ``kedro jupyter lab`` start with the project's ``catalog``, ``context``
and ``pipelines`` loaded."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from sentiment_mlops.pipeline_registry import register_pipelines
from tests.support.servers import free_port
from tests.tools.conftest import VENV_BIN, serve

pytestmark = pytest.mark.system


KERNEL = "kedro_sentiment_mlops"  # the kernel spec `kedro jupyter` installs
PROBE = (
    "from kedro.framework.context import KedroContext\n"
    "from kedro.io import DataCatalog\n"
    "print(sorted(pipelines), isinstance(catalog, DataCatalog), "
    "isinstance(context, KedroContext), context.params['source'])"
)


def _expected_probe_output() -> str:
    return f"{sorted(register_pipelines())} True True airline"


def test_kedro_ipython_loads_catalog_context_and_pipelines(sample_project):
    result = subprocess.run(
        [str(VENV_BIN / "kedro"), "ipython", "--no-banner", "-c", PROBE],
        cwd=sample_project["path"],
        env=sample_project["env"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _expected_probe_output() in result.stdout


def test_kedro_jupyter_lab_serves_a_kernel_with_the_project_loaded(sample_project, monkeypatch):
    port, token = free_port(), "sentiment-test-token"
    command = [
        str(VENV_BIN / "kedro"),
        *("jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", "--allow-root"),
        f"--port={port}",
        f"--IdentityProvider.token={token}",
    ]
    base = f"http://127.0.0.1:{port}"
    with serve(sample_project, command, f"{base}/api/status?token={token}"):
        with urllib.request.urlopen(f"{base}/api/kernelspecs?token={token}") as response:
            specs = json.load(response)["kernelspecs"]
        assert KERNEL in specs, f"kedro jupyter lab offers {sorted(specs)}"
        with urllib.request.urlopen(f"{base}/lab?token={token}") as response:
            assert "JupyterLab" in response.read().decode()
    # Run a cell in that kernel spec, as a notebook opened in the lab would.
    monkeypatch.setenv("JUPYTER_DATA_DIR", sample_project["env"]["JUPYTER_DATA_DIR"])
    notebook = new_notebook(cells=[new_code_cell(PROBE)])
    NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=300,
        resources={"metadata": {"path": str(sample_project["path"] / "notebooks")}},
    ).execute(env=sample_project["env"])
    printed = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert _expected_probe_output() in printed, nbformat.writes(notebook)
