"""The tier plugin (tests/support/tiers.py) stops a run whose tests lack exactly one tier."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

MARKERS = "[pytest]\nmarkers =\n    unit: u\n    integration: i\n    system: s\n"


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makeini(MARKERS)
    pytester.makepyfile(test_sample=source)
    return pytester.runpytest_inprocess("-p", "tests.support.tiers", *args)


def test_one_tier_per_test_runs(pytester):
    source = """
import pytest
pytestmark = pytest.mark.unit

def test_module_marked():
    pass

@pytest.mark.unit
def test_marked_twice_with_the_same_tier():
    pass
"""
    run(pytester, source).assert_outcomes(passed=2)


@pytest.mark.parametrize("selection", [(), ("-m", "unit")])
def test_missing_and_extra_tiers_stop_the_run_naming_each_test(pytester, selection):
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
    result = run(pytester, source, *selection)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*Every test needs exactly one tier marker*",
            "*test_sample.py::test_without_tier: no tier",
            "*test_sample.py::test_with_two_tiers: system, unit",
        ]
    )
    assert "test_fine" not in result.stderr.str()
