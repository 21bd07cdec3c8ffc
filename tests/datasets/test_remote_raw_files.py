"""Raw files read from an ``s3://`` raw_dir: verified, never written, clear errors.

Uses moto's S3 server on 127.0.0.1 (fast, our own logic only); the same path against a
real S3 server (Ceph RGW) is covered by tests/system/s3.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import s3fs

from sentiment_mlops.datasets import SentimentSourceDataset
from sentiment_mlops.datasets.raw_files import RawDataError, RawFile, fetch_remote_raw_file

pytestmark = pytest.mark.integration

CSV = b"text,label\nlovely flight,positive\nlost my bag,negative\n"


@pytest.fixture
def raw_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    filesystem = s3fs.S3FileSystem(skip_instance_cache=True)
    filesystem.makedirs("raw-bucket", exist_ok=True)
    filesystem.pipe("raw-bucket/01_raw/source/file.csv", CSV)
    return "s3://raw-bucket/01_raw"


def test_source_dataset_reads_a_verified_file_from_s3(raw_bucket: str, tmp_path: Path) -> None:
    source = {
        "reader": "csv",
        "files": [{"path": "source/file.csv", "sha256": hashlib.sha256(CSV).hexdigest()}],
        "text_column": "text",
        "label_column": "label",
        "label_map": {"positive": "positive", "negative": "negative"},
    }
    dataset = SentimentSourceDataset(source="s3", sources={"s3": source}, raw_dir=raw_bucket)
    data = dataset.load()
    assert data["text"].tolist() == ["lovely flight", "lost my bag"]
    assert data["label"].tolist() == ["positive", "negative"]
    assert s3fs.S3FileSystem(skip_instance_cache=True).cat(f"{raw_bucket}/source/file.csv") == CSV


def test_checksum_mismatch_on_s3_is_refused(raw_bucket: str, tmp_path: Path) -> None:
    wrong = RawFile(path="source/file.csv", sha256="0" * 64)
    with pytest.raises(RawDataError, match="Checksum mismatch"):
        fetch_remote_raw_file(wrong, raw_bucket, tmp_path)


def test_missing_object_names_the_url(raw_bucket: str, tmp_path: Path) -> None:
    missing = RawFile(path="source/absent.csv")
    with pytest.raises(RawDataError, match=r"s3://raw-bucket/01_raw/source/absent.csv not found"):
        fetch_remote_raw_file(missing, raw_bucket, tmp_path)
