"""`kedro run --pipelines inference` on a CSV of texts on S3, read and written in chunks.

(A local CSV is scored the same way in tests/api/test_parity.py.)
"""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.integration

TEXTS = [
    "@united thank you, the crew was wonderful",
    "@AmericanAir 3 hours on the tarmac and no information. Never again",
    "@SouthwestAir what is the baggage allowance?",
    "1234",  # a text that looks like a number must stay a text
    'quotes "inside", commas, and\na newline',
] * 7  # 35 rows -> 4 chunks of 10


def _write_instances(path) -> None:
    pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}).to_csv(path, index=False)


@pytest.fixture
def s3_bucket(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket="texts")
    yield credentials
    server.stop()


def test_batch_scoring_streams_texts_from_s3_in_chunks(trained_model, s3_bucket, tmp_path):
    local = tmp_path / "instances.csv"
    _write_instances(local)
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_bucket["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.upload_file(str(local), "texts", "incoming/instances.csv")
    output = tmp_path / "predictions.csv"
    log = trained_model.kedro_run(
        "inference",
        {
            "instances_path": "s3://texts/incoming/instances.csv",
            "predictions_path": str(output),
            "instances_chunksize": 10,
        },
        **s3_bucket,
    )
    predictions = pd.read_csv(output)
    assert list(predictions.columns) == [
        "text",
        "label",
        "confidence",
        "negative",
        "neutral",
        "positive",
    ]
    assert list(predictions["text"]) == TEXTS  # every row, in order, under one header
    assert "Scored chunk 4 (5 rows, 35 so far)" in " ".join(log.split())
    scores = predictions[["negative", "neutral", "positive"]]
    assert (scores.sum(axis=1) - 1).abs().max() < 1e-9


def test_batch_scoring_scores_with_the_registered_champion(trained_model, tmp_path):
    # Without the last run's local model file, only the registry can provide the model.
    local_model = trained_model.workdir / "data/06_models/calibrated_sentiment_model.pkl"
    aside = local_model.with_name("calibrated_sentiment_model.aside")
    local_model.rename(aside)
    try:
        instances, output = tmp_path / "instances.csv", tmp_path / "predictions.csv"
        _write_instances(instances)
        log = trained_model.kedro_run(
            "inference", {"instances_path": str(instances), "predictions_path": str(output)}
        )
    finally:
        aside.rename(local_model)
    # kedro-mlflow logs which run the registered model came from (rich wraps long lines).
    assert f"run_id='{trained_model.run_id}'" in "".join(log.split())
    assert list(pd.read_csv(output)["text"]) == TEXTS


def test_batch_scoring_with_an_unknown_alias_says_what_to_do(trained_model, tmp_path):
    instances = tmp_path / "instances.csv"
    _write_instances(instances)
    with pytest.raises(AssertionError) as failure:
        trained_model.kedro_run(
            "inference", {"instances_path": str(instances), "model_alias": "no-such-alias"}
        )
    message = " ".join(str(failure.value).split())
    assert "models:/sentiment@no-such-alias" in message
    assert "Train and register a model with `kedro run` first" in message
