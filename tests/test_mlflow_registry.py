"""The champion moves only to a version at least as good on the same test data (real registry)."""

from __future__ import annotations

import threading
import time

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier

from sentiment_mlops.api.settings import Settings
from sentiment_mlops.datasets.packaged_model_dataset import PackagedModelDataset
from sentiment_mlops.mlflow_registry import (
    CHAMPION_ALIAS,
    PROMOTION_LOCK_SUFFIX,
    REGISTERED_MODEL_NAME,
    PromotionLockTimeoutError,
    promote_if_better,
    promote_version,
    promotion_lock,
    register_model_version,
    split_fingerprint,
)

NAME = "sentiment"
TEST_SPLIT = pd.DataFrame(
    {"text": ["great flight", "lost my bag", "ok"], "label": ["positive", "negative", "neutral"]}
)


@pytest.fixture
def client(tmp_path, monkeypatch) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    # Other tests leave an active experiment id behind that this fresh store lacks.
    mlflow.set_experiment("tests")
    yield MlflowClient(uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _register(strategy: str = "prior") -> str:
    model = DummyClassifier(strategy=strategy).fit([[0], [1], [2]], TEST_SPLIT["label"])
    with mlflow.start_run():
        return register_model_version(model, NAME)


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def _promote(
    version: str, macro_f1: float, split: pd.DataFrame = TEST_SPLIT, source: str = "airline"
):
    """Offer ``version``, scored ``macro_f1`` on ``split`` of ``source``, for champion."""
    return promote_if_better(
        NAME, version, macro_f1, data_source=source, test_split_sha256=split_fingerprint(split)
    )


@pytest.mark.integration
def test_first_version_becomes_champion(client):
    version = _register()
    decision = _promote(version, 0.70)
    assert decision.promoted and decision.champion_version is None
    assert _champion(client) == version


@pytest.mark.integration
def test_worse_version_does_not_take_champion_and_the_run_says_why(client):
    first = _register()
    _promote(first, 0.70)
    worse = _register()
    with mlflow.start_run() as run:
        decision = _promote(worse, 0.65)

    assert not decision.promoted
    assert _champion(client) == first
    assert client.get_model_version(NAME, worse).aliases == []
    logged = client.get_run(run.info.run_id).data
    assert logged.tags["promotion.promoted"] == "false"
    assert "0.6500 < champion version 1's 0.7000" in logged.tags["promotion.reason"]
    assert logged.metrics["promotion.candidate_macro_f1"] == 0.65
    assert logged.metrics["promotion.champion_macro_f1"] == 0.70


@pytest.mark.integration
def test_better_or_equal_version_takes_champion(client):
    first = _register()
    _promote(first, 0.70)
    equal = _register()
    assert _promote(equal, 0.70).promoted
    assert _champion(client) == equal
    better = _register()
    decision = _promote(better, 0.75)
    assert decision.promoted and decision.champion_macro_f1 == 0.70
    assert _champion(client) == better
    assert client.get_model_version(NAME, better).tags["test_macro_f1"] == "0.75"


@pytest.mark.integration
def test_scores_on_other_test_data_are_not_compared(client):
    first = _register()
    _promote(first, 0.70)
    other_split = TEST_SPLIT.assign(label=["negative", "negative", "neutral"])
    other = _register()
    decision = _promote(other, 0.99, other_split)
    assert not decision.promoted and "other data" in decision.reason
    other_source = _register()
    decision = _promote(other_source, 0.99, source="semeval")
    assert not decision.promoted
    assert _champion(client) == first


@pytest.mark.unit
def test_fingerprint_ignores_row_order_and_names_missing_columns():
    shuffled = TEST_SPLIT.iloc[::-1]
    assert split_fingerprint(shuffled) == split_fingerprint(TEST_SPLIT)
    # Derived columns (the cleaned text, the source name) do not change which data it is.
    derived = TEST_SPLIT.assign(clean_text=["a", "b", "c"], source="airline")
    assert split_fingerprint(derived) == split_fingerprint(TEST_SPLIT)
    relabelled = TEST_SPLIT.assign(label=["positive", "negative", "positive"])
    assert split_fingerprint(relabelled) != split_fingerprint(TEST_SPLIT)
    with pytest.raises(ValueError, match="'text' and 'label'"):
        split_fingerprint(TEST_SPLIT.drop(columns="label"))


@pytest.mark.integration
def test_champion_alias_is_the_promotions_the_apis_and_batch_scorings(client, monkeypatch):
    monkeypatch.delenv("SENTIMENT_MODEL_URI", raising=False)
    champion_uri = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}"
    assert Settings().model_uri == champion_uri
    assert PackagedModelDataset().model_uri == champion_uri
    version = _register()
    _promote(version, 0.5)
    assert str(client.get_model_version_by_alias(NAME, CHAMPION_ALIAS).version) == version


@pytest.mark.unit
def test_batch_scoring_can_name_another_alias_or_a_version():
    assert PackagedModelDataset(alias="challenger").model_uri == "models:/sentiment@challenger"
    assert PackagedModelDataset(stage_or_version=3).model_uri == "models:/sentiment/3"


@pytest.mark.integration
def test_a_promotion_waits_while_another_holds_the_lock(client):
    version = _register()
    done = threading.Event()
    with promotion_lock(client, NAME):
        worker = threading.Thread(target=lambda: (_promote(version, 0.70), done.set()))
        worker.start()
        time.sleep(1.0)
        assert not done.is_set()  # still waiting for the lock
        assert client.get_registered_model(NAME).aliases == {}
    worker.join(timeout=30)
    assert done.is_set() and _champion(client) == version
    # Released: nothing is left behind in the registry.
    names = [model.name for model in client.search_registered_models()]
    assert names == [NAME]


@pytest.mark.integration
def test_a_held_lock_times_out_with_what_to_do(client):
    version = _register()
    _promote(version, 0.70)
    with promotion_lock(client, NAME), pytest.raises(PromotionLockTimeoutError) as raised:
        promote_version(NAME, version, force=True, lock_wait_s=0.5)
    message = str(raised.value)
    assert f"{NAME}{PROMOTION_LOCK_SUFFIX}" in message and "pid" in message
    assert "delete_registered_model" in message


@pytest.mark.integration
def test_a_stale_lock_is_broken(client):
    client.create_registered_model(f"{NAME}{PROMOTION_LOCK_SUFFIX}", tags={"owner": "dead run"})
    time.sleep(0.1)
    with promotion_lock(client, NAME, wait_s=5, stale_s=0.05):
        lock = client.get_registered_model(f"{NAME}{PROMOTION_LOCK_SUFFIX}")
        assert lock.tags["owner"] != "dead run"


@pytest.mark.integration
def test_a_lock_released_while_it_is_taken_is_taken_again(client, monkeypatch):
    """A SQL store answers a duplicate create by reading the existing lock; when its holder
    deletes it in between, the store says "not found" instead of "already exists". (The race
    of two real runs, made certain here: the first create meets that answer.)"""
    create = client.create_registered_model
    answers = iter([MlflowException("not found", error_code=RESOURCE_DOES_NOT_EXIST)])

    def create_after_a_release(*args, **kwargs):
        for error in answers:
            raise error
        return create(*args, **kwargs)

    monkeypatch.setattr(client, "create_registered_model", create_after_a_release)
    with promotion_lock(client, NAME, wait_s=5):
        assert client.get_registered_model(f"{NAME}{PROMOTION_LOCK_SUFFIX}").name
