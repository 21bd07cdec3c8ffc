"""The session's private Docker daemon and the project's image, shared by the system tests
that build or run containers (tests/support/docker.py): the daemon starts and the stand-in base
image is built once, and images built later reuse the cached layers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.docker import Docker, build_base_image, build_image, private_docker

IMAGE = "sentiment-mlops:smoke-test"


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    with private_docker() as client:
        yield client


@pytest.fixture(scope="session")
def base_image(docker: Docker) -> str:
    return build_base_image(docker)


@pytest.fixture(scope="session")
def image(docker: Docker, base_image: str) -> str:
    """The image as `docker build .` makes it (no extras)."""
    return build_image(docker, IMAGE)
