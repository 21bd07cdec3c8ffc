"""The ``aws`` Kedro environment puts every file-backed dataset of ``conf/base`` on S3.

Reads the configuration only (no S3 server). New datasets added to conf/base/catalog.yml
without an override in conf/aws/catalog.yml make ``test_every_file_dataset_is_on_s3`` fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.framework.project import settings
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

pytestmark = pytest.mark.unit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["airline", "semeval", "imdb", "amazon_alexa", "uci"]
VERSIONED = [
    "sentiment_model",
    "calibrated_sentiment_model",
    "metrics",
    "calibration_metrics",
    "uncertainty_threshold",
    "uncertainty_on_test",
    "model_comparison",
    "promotion_request",
    "promotion_decision",
    "{plot}_plot",
]


def catalog_config(env: str, source: str = "airline") -> dict[str, Any]:
    """The resolved catalog configuration of ``env`` (base merged with it)."""
    bootstrap_project(PROJECT_ROOT)
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(PROJECT_ROOT / settings.CONF_SOURCE),
        env=env,
        runtime_params={"source": source},
        **settings.CONFIG_LOADER_ARGS,
    )
    return loader["catalog"]


def file_locations(entry: Any) -> list[str]:
    """Every ``filepath``/``path``/``raw_dir`` inside a catalog entry (wrappers included)."""
    if not isinstance(entry, dict):
        return []
    found = [str(v) for k, v in entry.items() if k in {"filepath", "path", "raw_dir"}]
    for value in entry.values():
        found += file_locations(value)
    return found


@pytest.fixture
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_S3_BUCKET", "a-bucket")
    monkeypatch.setenv("SENTIMENT_S3_PREFIX", "a/prefix")


@pytest.mark.parametrize("source", SOURCES)
def test_every_file_dataset_is_on_s3(aws_settings: None, source: str) -> None:
    base = catalog_config("base", source)
    aws = catalog_config("aws", source)
    file_backed = [name for name, entry in base.items() if file_locations(entry)]
    assert "raw_texts" in file_backed and "metrics" in file_backed  # the check sees both kinds
    not_on_s3 = {
        name: file_locations(aws.get(name))
        for name in file_backed
        if not file_locations(aws.get(name))
        or not all(loc.startswith("s3://a-bucket/a/prefix/") for loc in file_locations(aws[name]))
    }
    assert not not_on_s3, (
        f"These conf/base datasets have no s3:// override in conf/aws/catalog.yml: {not_on_s3}"
    )


def test_a_session_in_aws_builds_its_catalog_on_s3(
    aws_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The catalog a run gets, not only its configuration: building the run's pipelines
    while the session starts must not swap the globals it resolves paths with."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="aws") as session:
        catalog = session.load_context().catalog
        protocols = {name: catalog[name]._protocol for name in ("canonical_texts", "train_split")}
    assert protocols == {"canonical_texts": "s3", "train_split": "s3"}


def test_models_and_metrics_are_versioned_on_s3(aws_settings: None) -> None:
    aws = catalog_config("aws")
    assert {name: aws[name].get("versioned") for name in VERSIONED} == dict.fromkeys(
        VERSIONED, True
    )


def test_base_environment_replaces_its_reports() -> None:
    base = catalog_config("base")
    assert not any(base[name].get("versioned") for name in VERSIONED)


def test_aws_catalog_overrides_only_datasets_whose_type_differs() -> None:
    """Locations come from globals.yml; conf/aws/catalog.yml is not a copy of conf/base."""
    base = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    aws = yaml.safe_load((PROJECT_ROOT / "conf/aws/catalog.yml").read_text())
    assert aws, "conf/aws/catalog.yml is empty: then this test has nothing to check"
    same_type = [name for name, entry in aws.items() if entry["type"] == base[name]["type"]]
    assert not same_type, f"only the location differs; globals.yml sets it: {same_type}"


def test_files_named_in_the_aws_headers_exist() -> None:
    named = {
        name
        for path in (PROJECT_ROOT / "conf" / "aws").glob("*.yml")
        for line in path.read_text().splitlines()
        if line.startswith("#")
        for name in re.findall(r"(?:tests|docs)/[\w/.]+\.(?:py|md)", line)
    }
    assert "tests/test_aws_environment.py" in named
    assert not [name for name in named if not (PROJECT_ROOT / name).is_file()]


def test_aws_environment_holds_no_credentials() -> None:
    text = "\n".join(p.read_text() for p in (PROJECT_ROOT / "conf" / "aws").iterdir())
    for word in ("key:", "secret:", "token:", "password"):
        assert word not in text.lower()


def test_missing_bucket_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTIMENT_S3_BUCKET", raising=False)
    with pytest.raises(Exception, match="SENTIMENT_S3_BUCKET"):
        catalog_config("aws")
