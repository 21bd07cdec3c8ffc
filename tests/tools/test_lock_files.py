"""The lock files: what `make`, the Docker image and CI install.

``make lock`` writes them with uv from requirements.txt, requirements-dev.txt and the deep and
pretrained extras (requirements-pretrained.lock: what the image adds with
``--build-arg EXTRAS=pretrained``); these tests catch a lock that no longer satisfies what it
was made from (an edited requirement without ``make lock``), a lock that drifted from the
runtime one or from another, and a pin without hashes.
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


def extra(name: str) -> list[Requirement]:
    """An extra of pyproject.toml, without its references to the project's other extras."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(line) for line in project["optional-dependencies"][name]]
    project_name = canonicalize_name(project["name"])
    return [r for r in wanted if canonicalize_name(r.name) != project_name]


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
                + extra("deep")
                + extra("pretrained")
            ),
        ),
        (
            "requirements-pretrained.lock",
            lambda: requirements("requirements.txt") + extra("deep") + extra("pretrained"),
        ),
    ],
    ids=["runtime", "dev", "pretrained"],
)
def test_lock_satisfies_what_it_is_made_from(lock_file, sources) -> None:
    assert not unmet(sources(), locked(lock_file)), (
        f"{lock_file} is stale: run `make lock` and commit it with the requirement"
    )


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("requirements.lock", "requirements-dev.lock"),
        ("requirements.lock", "requirements-pretrained.lock"),
        ("requirements-pretrained.lock", "requirements-dev.lock"),
    ],
)
def test_a_larger_lock_keeps_every_version_of_a_smaller_one(smaller, larger) -> None:
    """The image with the extra, and CI's environment, run the runtime stack's versions."""
    small, large = locked(smaller), locked(larger)
    drifted = {
        name: (version, large.get(name, ("absent",))[0])
        for name, (version, _) in small.items()
        if large.get(name, ("absent",))[0] != version
    }
    assert not drifted, f"{smaller} vs {larger} versions differ: {drifted}; run `make lock`"


@pytest.mark.parametrize(
    "lock_file", ["requirements.lock", "requirements-dev.lock", "requirements-pretrained.lock"]
)
def test_every_pin_carries_hashes(lock_file) -> None:
    lock = locked(lock_file)
    assert len(lock) > 100, f"{lock_file} pins only {len(lock)} packages"
    assert not [name for name, (_, hashes) in lock.items() if hashes == 0]


def test_image_and_make_install_the_lock_with_hash_checks_and_bytecode() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert '--require-hashes --find-links "${TORCH_WHEELS}" -r "${lock}"' in dockerfile
    assert "-o requirements-pretrained.lock" in makefile
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--require-hashes --find-links $(TORCH_WHEELS) -r requirements-dev.lock" in makefile
    # Without compiled bytecode, each process compiles its imports where PYTHONDONTWRITEBYTECODE
    # is set (or, in the image, where the user cannot write to the environment).
    assert "uv pip install --no-cache --compile-bytecode" in dockerfile
    assert "UV_INSTALL := $(UV) pip install --quiet --compile-bytecode" in makefile
