"""Fixtures of the inference pipeline tests: one real, small training run."""

import pytest

from tests.conftest import TrainedModel, shared_trained_model


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> TrainedModel:
    return shared_trained_model(tmp_path_factory)
