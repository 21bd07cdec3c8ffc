"""Every deep model round-trips through MLflow: logged, loaded in a fresh process, same output."""

from __future__ import annotations

import numpy as np
import pytest

from tests.networks.conftest import probabilities_from_fresh_process

pytestmark = pytest.mark.integration


def test_models_round_trip_through_mlflow_into_a_fresh_process(
    fitted_networks, fine_tuned, airline_texts, tmp_path, tracking_uri
):
    models = {**fitted_networks, "finetune": fine_tuned}
    texts = airline_texts["test_text"][:50]
    loaded = probabilities_from_fresh_process(models, texts, tmp_path, tracking_uri)
    for name, model in models.items():
        np.testing.assert_array_equal(loaded[name], model.predict_proba(texts), err_msg=name)
