"""The checks a new version passes before it is served, and when the follower tries one.

Tiny in-memory models; the registry is replaced by the follower's two seams (which version the
alias names, and loading one), so these test the follower's own decisions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.api.model_updates import ModelCheckError, ModelFollower, check_model
from sentiment_mlops.api.schemas import ModelCard

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

TEXTS = ["great crew", "lovely flight", "lost my bag", "delayed again", "flight at 5", "gate 12"]
LABELS = ["positive", "positive", "negative", "negative", "neutral", "neutral"]


def served_model(version: str = "1", texts=TEXTS, labels=LABELS, estimator=None) -> ServedModel:
    estimator = estimator or make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(
        texts, labels
    )
    card = ModelCard(
        model_uri=f"models:/sentiment/{version}",
        registered_name="sentiment",
        version=version,
        aliases=[],
        run_id=None,
        source=None,
        train_data_sha256=None,
        git_commit=None,
        classes=[str(label) for label in estimator.classes_],
        calibrated=False,
        explainable=False,
        uncertain_below=None,
        metrics={},
    )
    return ServedModel(estimator, card, None, "test model")


class NaNClassifier(LogisticRegression):
    def predict_proba(self, X):
        return np.full((X.shape[0], len(self.classes_)), math.nan)


def test_a_sound_model_passes() -> None:
    check_model(served_model("2"), served_model("1"), has_test_score=True)


def test_other_classes_are_refused() -> None:
    binary = served_model("2", TEXTS[:4], LABELS[:4])
    with pytest.raises(ModelCheckError, match=r"classes \['negative', 'positive'\] differ"):
        check_model(binary, served_model("1"), has_test_score=True)


def test_non_finite_probabilities_are_refused() -> None:
    broken = served_model(
        "2", estimator=make_pipeline(TfidfVectorizer(), NaNClassifier()).fit(TEXTS, LABELS)
    )
    with pytest.raises(ModelCheckError, match="not finite"):
        check_model(broken, served_model("1"), has_test_score=True)


def test_a_version_without_a_test_score_is_refused() -> None:
    with pytest.raises(ModelCheckError, match="no test_macro_f1"):
        check_model(served_model("2"), served_model("1"), has_test_score=False)


class FakeRegistry:
    """The alias's target and which versions fail to load, set by the test."""

    def __init__(self, follower: ModelFollower) -> None:
        self.version = "1"
        self.broken: set[str] = set()
        self.loads: list[str] = []
        follower._alias_version = lambda: self.version
        follower._load_and_check = self.load

    def load(self, version: str) -> ServedModel:
        self.loads.append(version)
        if version in self.broken:
            raise ModelCheckError(f"version {version} is broken")
        return served_model(version)


@pytest.fixture
def follower() -> tuple[ModelFollower, FakeRegistry, list[ServedModel]]:
    follower = ModelFollower("models:/sentiment@champion", ServiceMetrics())
    published: list[ServedModel] = []  # each model served, in order
    original_swap_in = follower._swap_in

    def swap_in(candidate: ServedModel) -> None:
        original_swap_in(candidate)
        published.append(follower.served)

    follower._swap_in = swap_in
    return follower, FakeRegistry(follower), published


async def test_follower_swaps_in_each_new_version_once(follower) -> None:
    follower, registry, published = follower
    assert (await follower.check()).outcome == "loaded"
    assert (await follower.check()).outcome == "unchanged"
    registry.version = "2"
    assert (await follower.check()).outcome == "loaded"
    assert [model.card.version for model in published] == ["1", "2"]
    assert registry.loads == ["1", "2"]


async def test_failed_version_is_retried_only_when_the_alias_moves_or_on_request(
    follower,
) -> None:
    follower, registry, published = follower
    await follower.check()
    registry.version, registry.broken = "3", {"3"}
    failed = await follower.check()
    assert failed.outcome == "failed" and failed.version == "3" and "broken" in failed.reason
    assert (await follower.check()) is failed  # the poll does not load it again
    assert registry.loads == ["1", "3"]
    assert follower.served.card.version == "1"

    await follower.check(retry_failed=True)  # POST /admin/reload
    assert registry.loads == ["1", "3", "3"]

    registry.version = "1"
    assert (await follower.check()).outcome == "unchanged"  # the failure is cleared
    registry.version = "3"
    await follower.check()  # the alias moved again: tried again
    assert registry.loads == ["1", "3", "3", "3"]
    assert [model.card.version for model in published] == ["1"]


async def test_a_pinned_uri_is_loaded_once_and_never_polled(tmp_path) -> None:
    follower = ModelFollower(str(tmp_path), ServiceMetrics())
    loads: list[str | None] = []

    def load(version):
        loads.append(version)
        return served_model("1")

    follower._load_and_check = load
    assert not follower.follows_alias
    assert (await follower.check()).outcome == "loaded"
    assert (await follower.check()).outcome == "unchanged"
    assert loads == [None]
