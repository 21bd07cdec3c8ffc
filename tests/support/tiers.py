"""A pytest plugin: every test carries exactly one tier marker, or the run stops.

The tiers (``unit``, ``integration``, ``system``) are registered, with what each means, in
pyproject.toml; ``make test-fast`` runs only ``unit``.
"""

from __future__ import annotations

import pytest

TIERS = ("unit", "integration", "system")


# First, before `-m` deselects: an unmarked test must stop every run, not only the full one.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run when a test does not carry exactly one tier marker."""
    wrong = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            wrong.append(f"  {item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            f"Every test needs exactly one tier marker ({', '.join(TIERS)}; pyproject.toml "
            "says what each means), as `pytestmark = pytest.mark.<tier>` in its module or "
            "`@pytest.mark.<tier>` on it. These do not:\n" + "\n".join(wrong)
        )
