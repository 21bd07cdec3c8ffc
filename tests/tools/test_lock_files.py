"""The lock files: what `make`, the Docker image and CI install.

``make lock`` writes them with uv from requirements.txt, requirements-dev.txt and the deep
extra; these tests catch a lock that no longer satisfies what it was made from (an edited
requirement without ``make lock``), a dev lock that drifted from the runtime one, and a pin
without hashes.
"""

from __future__ import annotations

import re

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.projects import PROJECT_ROOT

pytestmark = pytest.mark.unit

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def locked(name: str) -> dict[str, tuple[str, int]]:
    """Package -> (pinned version, number of hashes) of a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (PROJECT_ROOT / name).read_text().splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match["name"])
            pins[current] = (match["version"], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def requirements(name: str) -> list[Requirement]:
    """The requirements of a requirements file, without comments and ``-r`` includes."""
    lines = (line.split("#")[0].strip() for line in (PROJECT_ROOT / name).read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def deep_extra() -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["optional-dependencies"]["deep"]]


def unmet(wanted: list[Requirement], lock: dict[str, tuple[str, int]]) -> list[str]:
    missing = []
    for requirement in wanted:
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin[0], prereleases=True):
            missing.append(f"{requirement} (locked: {pin[0] if pin else 'absent'})")
    return missing


@pytest.mark.parametrize(
    ("lock_file", "sources"),
    [
        ("requirements.lock", lambda: requirements("requirements.txt")),
        (
            "requirements-dev.lock",
            lambda: (
                requirements("requirements.txt")
                + requirements("requirements-dev.txt")
                + deep_extra()
            ),
        ),
    ],
    ids=["runtime", "dev"],
)
def test_lock_satisfies_what_it_is_made_from(lock_file, sources) -> None:
    assert not unmet(sources(), locked(lock_file)), (
        f"{lock_file} is stale: run `make lock` and commit it with the requirement"
    )


def test_dev_lock_keeps_every_runtime_version() -> None:
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    drifted = {
        name: (version, dev.get(name, ("absent",))[0])
        for name, (version, _) in runtime.items()
        if dev.get(name, ("absent",))[0] != version
    }
    assert not drifted, f"runtime vs dev versions differ: {drifted}; run `make lock`"


@pytest.mark.parametrize("lock_file", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_carries_hashes(lock_file) -> None:
    lock = locked(lock_file)
    assert len(lock) > 100, f"{lock_file} pins only {len(lock)} packages"
    assert not [name for name, (_, hashes) in lock.items() if hashes == 0]


def test_image_and_make_install_the_lock_with_hash_checks_and_bytecode() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--require-hashes --find-links $(TORCH_WHEELS) -r requirements-dev.lock" in makefile
    # Without compiled bytecode, each process compiles its imports where PYTHONDONTWRITEBYTECODE
    # is set (or, in the image, where the user cannot write to the environment).
    assert "uv pip install --no-cache --compile-bytecode" in dockerfile
    assert "UV_INSTALL := $(UV) pip install --quiet --compile-bytecode" in makefile
