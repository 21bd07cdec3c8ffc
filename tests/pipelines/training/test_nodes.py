"""Training: candidate estimators built from their configuration."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from sentiment_mlops.pipelines.training.nodes import build_estimator


def test_estimator_comes_from_import_path_and_params():
    estimator = build_estimator(
        {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 3.0}}
    )
    assert isinstance(estimator, LogisticRegression) and estimator.C == 3.0


def test_bad_import_path_says_what_to_write():
    with pytest.raises(
        ValueError, match="Cannot import estimator 'sklearn.linear.Nope'.*full import path"
    ):
        build_estimator({"estimator": "sklearn.linear.Nope"})


def test_nested_estimator_specs_become_objects():
    estimator = build_estimator(
        {
            "estimator": "sklearn.calibration.CalibratedClassifierCV",
            "params": {"estimator": {"estimator": "sklearn.svm.LinearSVC", "params": {"C": 0.5}}},
        }
    )
    assert type(estimator.estimator).__name__ == "LinearSVC" and estimator.estimator.C == 0.5
