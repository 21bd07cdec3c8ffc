"""Credential files a user naturally creates are ignored by git (the image context is tested
with a real build in tests/system/test_docker_image.py)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

SECRETS = [
    "conf/aws/s3.env",  # the natural copy of conf/aws/s3.env.example
    "conf/local/credentials.yml",
    "conf/base/credentials.yml",
    ".env",
    "deploy/aws/prod.env",
]
KEPT = ["conf/aws/s3.env.example", "conf/aws/catalog.yml"]


def ignored(paths: list[str]) -> set[str]:
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in {0, 1}, result.stderr  # 1: none of them is ignored
    return set(result.stdout.split())


def test_credential_files_are_ignored_by_git():
    assert ignored(SECRETS) == set(SECRETS)


def test_the_example_and_the_configuration_are_not():
    assert ignored(KEPT) == set()
