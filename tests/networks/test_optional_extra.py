"""Without the ``deep`` extra the project still imports, and asking for a network says what to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# Runs in a fresh interpreter where every import of torch fails, as it does without the extra.
WITHOUT_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"No module named {name!r}")

sys.meta_path.insert(0, NoTorch())
import sentiment_mlops.mlflow_registry
from sentiment_mlops.networks import MODULE_PREFIX, epoch_logging
with epoch_logging(False):
    pass
try:
    from sentiment_mlops.networks import BiLSTMClassifier
except ImportError as error:
    print(error)
"""


def test_networks_need_the_deep_extra_and_say_how_to_install_it():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install -e '.[deep]'" in result.stdout
