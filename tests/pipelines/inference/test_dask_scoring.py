"""Batch scoring on Dask (`kedro run --pipelines inference_dask`): the pandas pipeline's numbers,
from and to S3, bad rows set aside, a lost worker retried, nothing published on failure.

The pipeline runs start their own LocalCluster of two workers, as a user's run does; the fault
tests score on the session's two-worker cluster on loopback.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator

import boto3
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client
from kedro.io import DatasetError
from moto.server import ThreadedMotoServer

from sentiment_mlops.datasets.dask_parquet_dataset import SUCCESS_MARKER, DaskParquetDataset
from sentiment_mlops.pipelines.inference_dask.nodes import reject_reasons, score_partitions
from tests.support.dask_models import FAIL_TEXT, KILL_TEXT, WrappedModel

pytestmark = pytest.mark.integration

CLASSES = ["negative", "neutral", "positive"]
COLUMNS = ["text", "label", "confidence", *CLASSES]
TWO_WORKERS = {"dask_scoring.n_workers": 2}


@pytest.fixture(scope="module")
def tweets(airline_raw) -> list[str]:
    """10,000 airline tweets; a CSV is split at line ends (docs/scale_out.md), so a line break
    inside a text becomes a space."""
    sample = airline_raw["text"].sample(n=10_000, random_state=0)
    return [text.replace("\r", " ").replace("\n", " ") for text in sample]


@pytest.fixture(scope="module")
def fitted_model(trained_model):
    with (trained_model.workdir / "data/06_models/calibrated_sentiment_model.pkl").open("rb") as f:
        return pickle.load(f)  # noqa: S301 - written by the session's training run


def s3_client(credentials: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=credentials["AWS_ENDPOINT_URL"],
        region_name=credentials["AWS_DEFAULT_REGION"],
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def s3_store() -> Iterator[dict[str, str]]:
    """An S3 server on 127.0.0.1 with a `texts` bucket; the credentials a run needs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    s3_client(credentials).create_bucket(Bucket="texts")
    yield credentials
    server.stop()


def test_dask_scoring_gives_the_pandas_pipelines_numbers(trained_model, tweets, tmp_path):
    instances = tmp_path / "instances.csv"
    pd.DataFrame({"id": range(len(tweets)), "text": tweets}).to_csv(instances, index=False)
    pandas_output, dask_output = tmp_path / "pandas.csv", tmp_path / "scored"
    trained_model.kedro_run(
        "inference", {"instances_path": str(instances), "predictions_path": str(pandas_output)}
    )
    log = trained_model.kedro_run(
        "inference_dask",
        {
            "instances_path": str(instances),
            "instances_blocksize": 100_000,  # ~1 MB of texts -> about 10 partitions
            "dask_predictions_path": str(dask_output),
            "dask_rejects_path": str(tmp_path / "rejects"),
            **TWO_WORKERS,
        },
        COLUMNS="400",  # no line of the log wrapped
    )
    expected = pd.read_csv(pandas_output)
    scored = pd.read_parquet(dask_output)  # the parts, in partition order
    assert len(list(dask_output.glob("*.parquet"))) >= 8
    assert list(scored.columns) == COLUMNS == list(expected.columns)
    assert list(scored["text"]) == tweets
    assert list(scored["label"]) == list(expected["label"])
    np.testing.assert_allclose(
        scored[["confidence", *CLASSES]].to_numpy(),
        expected[["confidence", *CLASSES]].to_numpy(),
        rtol=0,
        atol=1e-9,
    )
    assert pd.read_parquet(tmp_path / "rejects").empty
    assert (dask_output / SUCCESS_MARKER).exists()
    flat_log = " ".join(log.split())
    assert "Batch scoring on a local Dask cluster of 2 workers" in flat_log
    assert f"Wrote {len(tweets)} rows to {dask_output}" in flat_log
    assert "rows/s" in flat_log


def test_by_default_a_csv_with_line_breaks_inside_texts_is_read_whole(trained_model, tmp_path):
    # Dask splits a CSV into blocks at line ends: this file, in blocks of 4 MB
    # (`instances_blocksize=4MB`), fails to parse; other files are misread silently.
    paragraph = "the crew was kind, the seat was not.\nthen the second line " * 250
    texts = [f"@united flight {i}: " + paragraph * (i % 2) for i in range(1_200)]
    instances = tmp_path / "instances.csv"
    pd.DataFrame({"text": texts}).to_csv(instances, index=False)
    assert instances.stat().st_size > 8_000_000
    trained_model.kedro_run(
        "inference_dask",
        {
            "instances_path": str(instances),
            "dask_predictions_path": str(tmp_path / "scored"),
            "dask_rejects_path": str(tmp_path / "rejects"),
            **TWO_WORKERS,
        },
    )
    assert list(pd.read_parquet(tmp_path / "scored")["text"]) == texts


def test_dask_scoring_reads_parquet_from_s3_and_sets_bad_rows_aside(
    trained_model, tweets, s3_store, tmp_path
):
    texts = tweets[:300] + [None, "", "   \t"]
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
    s3 = s3_client(s3_store)
    for number in range(3):  # three files, three partitions
        local = tmp_path / f"part-{number}.parquet"
        frame.iloc[number * 101 : (number + 1) * 101].to_parquet(local, index=False)
        s3.upload_file(str(local), "texts", f"incoming/part-{number}.parquet")
    parquet_input = (
        "dask_instances:\n"
        "  type: sentiment_mlops.datasets.dask_parquet_dataset.DaskParquetDataset\n"
        "  filepath: ${runtime_params:instances_path}\n"
    )
    trained_model.kedro_run(
        "inference_dask",
        {
            "instances_path": "s3://texts/incoming",
            "dask_predictions_path": "s3://texts/scored",
            "dask_rejects_path": "s3://texts/rejects",
            **TWO_WORKERS,
        },
        files={"conf/local/catalog_parquet_input.yml": parquet_input},
        **s3_store,
    )
    options = {"client_kwargs": {"endpoint_url": s3_store["AWS_ENDPOINT_URL"]}}
    with pytest.MonkeyPatch.context() as environment:
        for name, value in s3_store.items():
            environment.setenv(name, value)
        scored = dd.read_parquet("s3://texts/scored", storage_options=options).compute()
        rejects = dd.read_parquet("s3://texts/rejects", storage_options=options).compute()
        listed = s3.list_objects_v2(Bucket="texts", Prefix="scored/")["Contents"]
    assert list(scored["text"]) == tweets[:300]
    assert list(rejects["id"]) == [300, 301, 302]
    assert list(rejects["reject_reason"]) == ["missing", "blank", "blank"]
    assert f"scored/{SUCCESS_MARKER}" in {entry["Key"] for entry in listed}


def test_the_model_is_unpickled_once_per_worker(fitted_model, tweets, dask_scheduler, tmp_path):
    model = WrappedModel(fitted_model, tmp_path / "unpickled.log", tmp_path / "killed")
    output = DaskParquetDataset(filepath=str(tmp_path / "scored"))
    instances = dd.from_pandas(pd.DataFrame({"text": tweets[:2000]}), npartitions=20)
    with Client(dask_scheduler) as client:
        predictions, _ = score_partitions(model, instances)
        output.save(predictions)
        assert len(output.load()) == 2000
        worker_pids = set(client.run(os.getpid).values())
    # (Dask may copy the graph in this process too: that is not a worker.)
    unpickled_by = [
        int(pid)
        for pid in (tmp_path / "unpickled.log").read_text().split()
        if int(pid) != os.getpid()
    ]
    assert 1 <= len(unpickled_by) <= 2  # 20 partitions, two workers
    assert len(set(unpickled_by)) == len(unpickled_by)
    assert set(unpickled_by) <= worker_pids


def test_a_worker_lost_mid_job_is_replaced_and_no_row_is_lost(
    fitted_model, tweets, dask_scheduler, tmp_path
):
    texts = tweets[:1000]
    texts[550] = KILL_TEXT
    model = WrappedModel(fitted_model, tmp_path / "unpickled.log", tmp_path / "killed")
    output = DaskParquetDataset(filepath=str(tmp_path / "scored"))
    instances = dd.from_pandas(pd.DataFrame({"text": texts}), npartitions=10)
    with Client(dask_scheduler) as client:
        predictions, _ = score_partitions(model, instances)
        output.save(predictions)
        client.wait_for_workers(2, timeout=60)  # the nanny restarted the lost one
    assert (tmp_path / "killed").exists()  # a worker did die, mid-job
    scored = output.load().compute()
    assert list(scored["text"]) == texts
    expected = fitted_model.predict_proba(pd.Series(texts).to_numpy(dtype=object))
    np.testing.assert_allclose(scored[CLASSES].to_numpy(), expected, rtol=0, atol=1e-9)


def test_a_failed_partition_publishes_nothing_and_keeps_the_previous_output(
    fitted_model, tweets, dask_scheduler, tmp_path
):
    model = WrappedModel(fitted_model, tmp_path / "unpickled.log", tmp_path / "killed")
    output = DaskParquetDataset(filepath=str(tmp_path / "scored"))
    with Client(dask_scheduler):
        previous, _ = score_partitions(
            model, dd.from_pandas(pd.DataFrame({"text": tweets[:100]}), npartitions=2)
        )
        output.save(previous)
        texts = tweets[:1000]
        texts[990] = FAIL_TEXT  # the last partition fails
        failing, _ = score_partitions(
            model, dd.from_pandas(pd.DataFrame({"text": texts}), npartitions=10)
        )
        with pytest.raises(DatasetError, match="fails on purpose"):
            output.save(failing)
    assert list(output.load().compute()["text"]) == tweets[:100]
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_rows_that_cannot_be_scored_get_a_reason():
    texts = pd.Series(["fine", None, float("nan"), "", " \n", 42, b"bytes"], dtype=object)
    assert list(reject_reasons(texts).fillna("scorable")) == [
        "scorable",
        "missing",
        "missing",
        "blank",
        "blank",
        "not a string (int)",
        "not a string (bytes)",
    ]


def test_a_bucket_without_a_folder_is_refused():
    with pytest.raises(DatasetError, match="s3://texts/predictions"):
        DaskParquetDataset(filepath="s3://texts")
