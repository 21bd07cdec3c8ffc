"""The tier plugin (tests/support/tiers.py) stops a run whose tests lack exactly one tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.projects import PROJECT_ROOT

pytestmark = pytest.mark.unit

MARKERS = "[pytest]\nmarkers =\n    unit: u\n    integration: i\n    system: s\n"


def run(folder: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with the tier plugin on one test file, in its own process: pytester's in-process
    run restores sys.modules afterwards, which fails when a thread left by another test imports
    at that moment ("dictionary keys changed during iteration")."""
    (folder / "pytest.ini").write_text(MARKERS)
    (folder / "test_sample.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.support.tiers", "-p", "no:cacheprovider"]
        + list(args),
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_one_tier_per_test_runs(tmp_path):
    source = """
import pytest
pytestmark = pytest.mark.unit

def test_module_marked():
    pass

@pytest.mark.unit
def test_marked_twice_with_the_same_tier():
    pass
"""
    result = run(tmp_path, source)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("selection", [(), ("-m", "unit")])
def test_missing_and_extra_tiers_stop_the_run_naming_each_test(tmp_path, selection):
    source = """
import pytest

def test_without_tier():
    pass

@pytest.mark.unit
@pytest.mark.system
def test_with_two_tiers():
    pass

@pytest.mark.unit
def test_fine():
    pass
"""
    result = run(tmp_path, source, *selection)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "Every test needs exactly one tier marker" in result.stderr
    assert "test_sample.py::test_without_tier: no tier\n" in result.stderr
    assert "test_sample.py::test_with_two_tiers: system, unit\n" in result.stderr
    assert "test_fine" not in result.stderr
