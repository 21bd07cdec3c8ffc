"""Batch pipeline, loaded MLflow model and HTTP service give the same answers (to 1e-9).

Also proves that the packaged model loads and predicts outside the project directory, in a
fresh process, from the registry alias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.system

CLASSES = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def fixed_texts(trained_model) -> list[str]:
    test_split = pd.read_parquet(trained_model.workdir / "data/05_model_input/test_split.parquet")
    extra = ["ok", "&lt;3 @united :)", "NOT good. not GOOD!!!", "ñandú 🚀 " * 5]
    return list(test_split["text"].head(60)) + extra


def test_batch_mlflow_and_http_agree(trained_model, service, fixed_texts, tmp_path_factory):
    outside = tmp_path_factory.mktemp("parity")  # neither the project nor the training dir
    instances = outside / "instances.csv"
    pd.DataFrame({"text": fixed_texts}).to_csv(instances, index=False)

    batch_output = outside / "batch.csv"
    log = trained_model.kedro_run(
        "inference",
        {
            "instances_path": str(instances),
            "predictions_path": str(batch_output),
            "instances_chunksize": 16,  # 64 texts -> 4 chunks, appended under one header
        },
    )
    assert "Scored chunk 4 (16 rows, 64 so far)" in " ".join(log.split())
    batch = pd.read_csv(batch_output)

    packaged = trained_model.packaged_predictions(fixed_texts, outside)
    assert list(packaged.columns) == ["label", "confidence", *CLASSES]

    with service.client() as client:
        answers = client.post("/predict/batch", json={"texts": fixed_texts}).json()["predictions"]
    http = pd.DataFrame(
        {"label": [a["label"] for a in answers], "confidence": [a["confidence"] for a in answers]}
        | {name: [a["scores"][name] for a in answers] for name in CLASSES}
    )

    assert list(batch["text"]) == fixed_texts
    for other in (packaged, http):
        assert list(other["label"]) == list(batch["label"])
        np.testing.assert_allclose(
            other[["confidence", *CLASSES]].to_numpy(),
            batch[["confidence", *CLASSES]].to_numpy(),
            rtol=0,
            atol=1e-9,
        )
