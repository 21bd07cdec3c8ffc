"""The loop closed, end to end on loopback: a service trained on airline tweets gets product and
movie reviews, and airline tweets it never saw, with feedback on part of them; the monitoring
pipeline flags the shift and recommends retraining; retraining with the feedback runs; the
champion moves only if the new version is at least as good on the same test data; the service
follows the registry.

Real parts throughout: `sentiment-mlops serve` in its own process, a real MLflow store, and
the commands the monitor workflow runs (`make monitor`, `scripts/retrain_recommended.py`,
`make retrain`) on a copy of the project.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sentiment_mlops.mlflow_registry import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from tests.api.conftest import start_service
from tests.support.projects import PROJECT_ROOT, VENV_BIN, TrainedProject, run_command

pytestmark = pytest.mark.system
logger = logging.getLogger(__name__)

KEY = "loop-key"
AUTH = {"X-API-Key": KEY}
SHIFTED_SOURCES = ("amazon_alexa", "imdb")
FEEDBACK_SHARE = 0.5  # of the reviews
# Airline tweets outside the training sample, all with feedback: in-domain labels the next
# version can learn from (none can be a held-out text: the retraining run drops those).
UNSEEN_AIRLINE_TWEETS = 400
FLUSH_TIMEOUT_S = 30
FOLLOW_TIMEOUT_S = 60


def logged_rows(folder: Path) -> pd.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=["prediction_id"])
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)


def send_stream(client, stream: pd.DataFrame) -> list[dict]:
    answers = []
    for start in range(0, len(stream), 100):
        texts = stream["text"].iloc[start : start + 100].tolist()
        response = client.post("/predict/batch", json={"texts": texts}, headers=AUTH)
        assert response.status_code == 200, response.text
        answers.extend(response.json()["predictions"])
    return answers


def served_version(client) -> str:
    return client.get("/model", headers=AUTH).json()["version"]


def wait_until_served(client, version: str) -> None:
    """Until /model names ``version``; then a prediction is made by it too."""
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while served_version(client) != version:
        assert time.monotonic() < deadline, f"the service never served version {version}"
        time.sleep(0.5)
    answer = client.post("/predict", json={"text": "great crew"}, headers=AUTH).json()
    assert answer["model_version"] == version


def make(project: TrainedProject, target: str) -> None:
    """``make <target>`` of the project's Makefile in the project copy, with this venv (taken
    as set up: the copy's lock files are newer than its stamps)."""
    venv = VENV_BIN.parent
    result = run_command(
        ["make", "-f", PROJECT_ROOT / "Makefile", f"VENV={venv}"]
        + ["-o", venv / ".runtime-installed", "-o", venv / ".dev-installed", target],
        project.workdir,
        project.env(),
        timeout=900,
    )
    assert result.returncode == 0, (
        f"make {target} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )


def unseen_airline_tweets(airline_raw: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    tweets = airline_raw.rename(columns={"airline_sentiment": "label"})[["text", "label"]]
    unseen = tweets.loc[~tweets["text"].isin(sample["text"])]
    return unseen.sample(UNSEEN_AIRLINE_TWEETS, random_state=0).assign(source="airline")


def test_shift_feedback_monitoring_retraining_and_the_service_follows(  # noqa: PLR0915 - one story
    trained_model: TrainedProject,
    source_samples: dict[str, pd.DataFrame],
    airline_raw: pd.DataFrame,
    tmp_path: Path,
):
    project = trained_model.copy(tmp_path / "project")
    serving = project.workdir / "data/01_raw/serving"
    env = project.env(
        SENTIMENT_API_KEY=KEY,
        SENTIMENT_MODEL_POLL_S="1",
        SENTIMENT_PREDICTION_LOG_DIR=str(serving / "predictions"),
        SENTIMENT_FEEDBACK_DIR=str(serving / "feedback"),
        SENTIMENT_PREDICTION_LOG_FLUSH_S="0.5",
    )
    reviews = pd.concat(
        [source_samples[name].assign(source=name) for name in SHIFTED_SOURCES], ignore_index=True
    )
    # What a client would send: some reviews are empty, a few longer than the service accepts.
    reviews = reviews.loc[reviews["text"].str.strip().ne("") & reviews["text"].str.len().le(5_000)]
    reviews = reviews.assign(feedback=reviews.index < len(reviews) * FEEDBACK_SHARE)
    tweets = unseen_airline_tweets(airline_raw, source_samples["airline"]).assign(feedback=True)
    stream = pd.concat([reviews, tweets], ignore_index=True).sample(frac=1.0, random_state=0)
    with_feedback = int(stream["feedback"].sum())
    service = start_service(project.workdir, env)
    try:
        with service.client() as client:
            assert served_version(client) == project.version

            # 1. The service sees the shifted stream; users correct part of it.
            answers = send_stream(client, stream)
            corrected = zip(answers, stream["label"], stream["feedback"], strict=True)
            for answer, label in ((a, label) for a, label, wanted in corrected if wanted):
                receipt = client.post(
                    "/feedback",
                    json={"prediction_id": answer["prediction_id"], "label": label},
                    headers=AUTH,
                )
                assert receipt.status_code == 201, receipt.text
            deadline = time.monotonic() + FLUSH_TIMEOUT_S
            while len(logged_rows(serving / "predictions")) < len(stream):
                assert time.monotonic() < deadline, "the prediction log was not written"
                time.sleep(0.2)
            logged = logged_rows(serving / "predictions")
            assert set(logged["prediction_id"]) == {answer["prediction_id"] for answer in answers}
            assert (logged["model_version"] == project.version).all()

            # 2. Monitoring flags the shift and recommends retraining.
            make(project, "monitor")
            recommended = run_command(
                [sys.executable, PROJECT_ROOT / "scripts/retrain_recommended.py"],
                project.workdir,
                project.env(),
            )
            assert recommended.stdout.strip() == "true", recommended.stderr  # what CI reads
            reports = project.workdir / "data/08_reporting"
            drift = json.loads((reports / "drift_metrics.json").read_text())
            assert drift["window_predictions"] == len(stream)
            assert drift["feedback_count"] == with_feedback
            assert drift["retrain_recommended"] is True
            reasons = " ".join(drift["retrain_reasons"])
            assert "text length PSI" in reasons, reasons  # reviews are longer than tweets
            assert drift["unknown_token_share_window"] > drift["unknown_token_share_reference"]
            report = json.loads((reports / "drift_report.json").read_text())
            assert "retrain recommended: yes" in report["layout"]["title"]["text"]
            registry = MlflowClient(tracking_uri=project.tracking_uri)
            tags = registry.get_model_version(REGISTERED_MODEL_NAME, project.version).tags
            assert tags["monitoring.retrain_recommended"] == "true"
            monitoring_run = registry.get_run(tags["monitoring_run_id"])
            assert monitoring_run.data.tags["served_model_version"] == project.version
            assert monitoring_run.data.metrics["monitoring.text_length_psi"] == pytest.approx(
                drift["text_length_psi"]
            )

            # 3. Retraining on the source plus the feedback; the promotion rule decides.
            splits = project.workdir / "data/05_model_input"
            held_out_before = {
                name: pd.read_parquet(splits / f"{name}_split.parquet")
                for name in ("validation", "test")
            }
            make(project, "retrain")  # the feedback pipeline, then training with it
            feedback_texts = pd.read_parquet(
                project.workdir / "data/01_raw/feedback/feedback_texts.parquet"
            )
            assert len(feedback_texts) == with_feedback
            assert set(feedback_texts["source"]) == {"feedback"}
            train = pd.read_parquet(splits / "train_split.parquet")
            added = train.loc[train["source"] == "feedback"]
            assert 0 < len(added) <= with_feedback
            for name, before in held_out_before.items():  # feedback never reaches them
                after = pd.read_parquet(splits / f"{name}_split.parquet")
                pd.testing.assert_frame_equal(after, before)
            decision = json.loads((reports / "promotion.json").read_text())
            assert decision["version"] != project.version
            assert "on the same test split" in decision["reason"], decision["reason"]
            assert decision["promoted"] is (
                decision["candidate_macro_f1"] >= decision["champion_macro_f1"]
            )
            logger.info("Promotion: %s", decision["reason"])  # which branch ran

            # 4. The service serves whatever the champion now is, without a restart.
            champion = registry.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
            expected = decision["version"] if decision["promoted"] else project.version
            assert str(champion.version) == expected
            wait_until_served(client, expected)
            if not decision["promoted"]:
                # An operator overrides the rule (`sentiment-mlops promote --force`): the
                # service follows that move too.
                promoted = run_command(
                    [VENV_BIN / "sentiment-mlops", "promote", "--version", decision["version"]]
                    + ["--force"],
                    project.workdir,
                    project.env(),
                )
                assert promoted.returncode == 0, promoted.stderr
                wait_until_served(client, decision["version"])
    finally:
        service.stop()
