"""The Prometheus alert rules (deploy/monitoring/alerts.yml) pass ``promtool check rules``, and
``promtool test rules`` shows them firing on synthetic series (deploy/monitoring/alerts_test.yml).

System tier: promtool comes from the Debian package ``prometheus`` (system-packages.txt). As with
the other linters, promtool is also shown a known-bad rule file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.system

MONITORING = PROJECT_ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
PROMTOOL = "/usr/bin/promtool"


def promtool(*args: str) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).is_file():
        pytest.fail(f"{PROMTOOL} not found: `make system-packages` installs it (prometheus)")
    return subprocess.run(
        [PROMTOOL, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert [group["name"] for group in groups] == ["sentiment-api"]
    for rule in groups[0]["rules"]:
        assert rule.get("for") and rule["labels"]["severity"] in {"critical", "warning"}, rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule


def test_promtool_catches_a_bad_rule_file(tmp_path):
    bad = tmp_path / "alerts.yml"
    bad.write_text(
        ALERTS.read_text().replace(
            "expr: sentiment_model_ready < 1", "expr: sentiment_model_ready < < 1"
        )
    )
    assert bad.read_text() != ALERTS.read_text()
    result = promtool("check", "rules", str(bad))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert '"SentimentModelNotReady": could not parse expression' in output, output


def test_alert_rules_fire_on_synthetic_series_and_not_on_steady_ones():
    result = promtool("test", "rules", str(MONITORING / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_fails_when_an_expected_alert_does_not_fire(tmp_path):
    """The unit tests can fail: the same tests against rules whose class-mix threshold is
    out of reach report the missing alert."""
    shutil.copy(MONITORING / "alerts_test.yml", tmp_path)
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace(") > 0.15", ") > 0.9"))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode != 0
    assert "SentimentPredictedClassMixShift" in result.stdout + result.stderr
