"""Monitoring nodes on synthetic prediction logs, feedback and reference splits."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from sentiment_mlops.pipelines.evaluation.nodes import expected_calibration_error
from sentiment_mlops.pipelines.monitoring.nodes import (
    class_mix_drift,
    confidence_drift,
    feedback_quality,
    input_drift,
    latest_feedback,
    mlflow_metrics,
    plot_drift_report,
    population_stability_index,
    predictions_in_window,
    recommend_retraining,
)
from sentiment_mlops.text_cleaning import TextCleaner

pytestmark = pytest.mark.unit

CLASSES = ["negative", "neutral", "positive"]
WORDS = ["good", "bad", "flight", "delay", "crew", "seat", "late", "great", "food", "gate"]
MONITORING = {
    "window": {"hours": 24, "end": None},
    "min_predictions": 200,
    "min_feedback": 30,
    "new_tokens_top_k": 20,
    "thresholds": {
        "class_mix_psi": 0.2,
        "class_mix_p_value": 0.01,
        "text_length_psi": 0.2,
        "unknown_token_share_increase": 0.10,
        "confidence_psi": 0.2,
        "feedback_macro_f1_drop": 0.05,
    },
}


# ------------------------------------------------------------------------- synthetic data
def random_texts(rng: np.random.Generator, n: int, words: list[str], length: int = 8) -> list[str]:
    """Texts of ``length`` +- 3 words drawn from ``words``, first word capitalised."""
    sizes = rng.integers(length - 3, length + 4, size=n)
    return [" ".join(rng.choice(words, size=size)).capitalize() + "!" for size in sizes]


def reference_split(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    texts = random_texts(rng, n, WORDS)
    return pd.DataFrame(
        {
            "text": texts,
            "clean_text": TextCleaner().transform(texts),
            "label": rng.choice(CLASSES, size=n),
            "source": "synthetic",
        }
    )


def predictions(rng: np.random.Generator, n: int, mix=(0.3, 0.2, 0.5), high=0.95) -> pd.DataFrame:
    """``label`` drawn from ``mix``, ``confidence`` uniform on [0.4, ``high``]."""
    return pd.DataFrame(
        {"label": rng.choice(CLASSES, size=n, p=mix), "confidence": rng.uniform(0.4, high, n)}
    )


def log_rows(times: list[str], texts: list[str | None] | None = None, **columns) -> pd.DataFrame:
    """Prediction log rows at ``times`` (UTC), with the service's columns."""
    n = len(times)
    texts = texts if texts is not None else [f"text {i}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "prediction_id": [f"id-{time}" for time in times],
            "predicted_at": pd.to_datetime(times, utc=True, format="ISO8601"),
            "model_version": "3",
            "label": "positive",
            "confidence": 0.9,
            "scores": json.dumps({"negative": 0.05, "neutral": 0.05, "positive": 0.9}),
            "text": texts,
            "text_length": [len(text) if text else 10 for text in texts],
            "text_sha256": "0" * 64,
        }
    )
    return frame.assign(**columns)


def loader(frame: pd.DataFrame):
    return lambda: frame


def must_not_load(partition: str):
    def load() -> pd.DataFrame:
        raise AssertionError(f"{partition} is outside the window and must not be loaded")

    return load


# ------------------------------------------------------------------------------ the window
def test_window_keeps_rows_after_start_up_to_end_sorted():
    log = {
        "date=2026-12-05/hour=21/part-b": loader(
            log_rows(["2026-12-05 21:59", "2026-12-05 21:00", "2026-12-05 22:00"])
        ),
        "date=2026-12-06/hour=21/part-a": loader(
            log_rows(["2026-12-06 21:30:00", "2026-12-06 21:00:01", "2026-12-06 21:00:00"])
        ),
    }
    window = predictions_in_window(log, {"hours": 24, "end": "2026-12-06T21:00:00Z"})
    # 21:00 on the 5th is the excluded start, 21:00 on the 6th the included end.
    assert window["predicted_at"].dt.strftime("%d %H:%M:%S").tolist() == [
        "05 21:59:00",
        "05 22:00:00",
        "06 21:00:00",
    ]


def test_partition_outside_the_window_is_never_loaded():
    inside = "date=2026-12-06/hour=09/part-1"
    log = {
        "date=2026-12-05/hour=08/part-0": must_not_load("hour 08 of the 5th"),
        inside: loader(log_rows(["2026-12-06 09:15"])),
        "date=2026-12-06/hour=11/part-2": must_not_load("hour 11 of the 6th"),
    }
    # The window (2026-12-05 10:30, 2026-12-06 10:30]: local time 11:30 at UTC+1.
    window = predictions_in_window(log, {"hours": 24, "end": "2026-12-06T11:30:00+01:00"})
    assert len(window) == 1


def test_end_null_means_now():
    now = pd.Timestamp.now(tz="UTC")
    recent, old = now - pd.Timedelta(minutes=5), now - pd.Timedelta(days=3)
    log = {
        f"date={recent:%Y-%m-%d}/hour={recent:%H}/part-0": loader(
            log_rows([recent.isoformat(), (now + pd.Timedelta(hours=1)).isoformat()])
        ),
        f"date={old:%Y-%m-%d}/hour={old:%H}/part-1": must_not_load("three days ago"),
    }
    window = predictions_in_window(log, {"hours": 1, "end": None})
    assert window["predicted_at"].tolist() == [recent]


def test_unparsable_partition_id_is_named():
    log = {
        "date=2026-12-06/hour=09/part-0": loader(log_rows(["2026-12-06 09:15"])),
        "2026-12-06/part-1": loader(log_rows(["2026-12-06 09:20"])),
    }
    with pytest.raises(ValueError, match="'2026-12-06/part-1'"):
        predictions_in_window(log, {"hours": 24, "end": "2026-12-06T12:00Z"})


def test_empty_window_says_the_window_the_log_and_what_to_check():
    log = {"date=2026-12-01/hour=09/part-0": must_not_load("a week before")}
    with pytest.raises(ValueError) as error:
        predictions_in_window(log, {"hours": 24, "end": "2026-12-06T12:00Z"})
    message = str(error.value)
    assert "2026-12-05T12:00:00+00:00 and 2026-12-06T12:00:00+00:00" in message
    assert "1 partitions" in message
    assert "SENTIMENT_PREDICTION_LOG_SAMPLE > 0" in message
    assert "SENTIMENT_PREDICTION_LOG_DIR" in message


# ---------------------------------------------------------------------------- feedback
def feedback_rows(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    ids, labels, times = zip(*rows, strict=True)
    return pd.DataFrame(
        {"prediction_id": ids, "label": labels, "received_at": pd.to_datetime(times, utc=True)}
    )


def test_latest_feedback_per_prediction_wins_across_partitions():
    feedback = {
        # The correction of "a" sits in the partition that sorts first.
        "date=2026-12-06/hour=09/part-0": loader(
            feedback_rows(
                [("a", "positive", "2026-12-06 09:30"), ("b", "neutral", "2026-12-06 09:00")]
            )
        ),
        "date=2026-12-06/hour=08/part-0": loader(
            feedback_rows(
                [("a", "negative", "2026-12-06 08:10"), ("c", "negative", "2026-12-06 08:00")]
            )
        ),
    }
    latest = latest_feedback(feedback).set_index("prediction_id")["label"]
    assert latest.sort_index().to_dict() == {"a": "positive", "b": "neutral", "c": "negative"}


def test_no_feedback_is_an_empty_frame_with_the_columns():
    latest = latest_feedback({})
    assert latest.empty
    assert list(latest.columns) == ["prediction_id", "label", "received_at"]


# ------------------------------------------------------------------------------- drift
def test_psi_matches_a_hand_computation():
    # (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3
    psi = population_stability_index(np.array([0.5, 0.5]), np.array([0.25, 0.75]))
    assert psi == pytest.approx(0.25 * math.log(3))


def test_psi_floors_an_empty_bin_without_renormalising():
    psi = population_stability_index(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2]))
    expected = 2 * (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    assert psi == pytest.approx(expected)


def test_psi_of_identical_shares_is_zero():
    assert population_stability_index(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_class_mix_of_identical_shares_does_not_drift():
    reference = pd.DataFrame({"label": ["negative"] * 30 + ["positive"] * 70})
    window = pd.DataFrame({"label": ["positive"] * 7 + ["negative"] * 3})
    metrics = class_mix_drift(window, reference)
    assert metrics["class_mix_psi"] == pytest.approx(0.0)
    assert metrics["class_mix_chi2_p_value"] == pytest.approx(1.0)
    assert metrics["window_share_negative"] == pytest.approx(0.3)


def test_class_mix_shift_and_a_class_the_reference_never_predicted():
    reference = pd.DataFrame({"label": ["negative"] * 50 + ["positive"] * 50})
    window = pd.DataFrame({"label": ["negative"] * 150 + ["positive"] * 30 + ["neutral"] * 20})
    metrics = class_mix_drift(window, reference)
    assert metrics["reference_share_neutral"] == 0.0
    assert metrics["window_share_neutral"] == pytest.approx(0.1)
    expected_psi = population_stability_index(
        np.array([0.5, 0.0, 0.5]), np.array([0.75, 0.1, 0.15])
    )
    assert metrics["class_mix_psi"] == pytest.approx(expected_psi)
    assert metrics["class_mix_chi2_p_value"] < 1e-6
    assert all(isinstance(value, float) for value in metrics.values())


def test_input_drift_of_a_window_from_the_same_distribution_is_small():
    rng = np.random.default_rng(0)
    reference = reference_split(rng)
    texts = random_texts(rng, 300, WORDS)
    window = log_rows([f"2026-12-06 10:{i % 60:02d}" for i in range(300)], texts=texts)
    metrics, new_tokens = input_drift(window, reference, {}, top_k=5)
    assert metrics["text_length_psi"] < 0.1
    assert metrics["unknown_token_share_window"] == 0.0
    assert new_tokens.empty and list(new_tokens.columns) == ["token", "count", "share"]


def test_input_drift_longer_texts_and_new_words():
    rng = np.random.default_rng(1)
    reference = reference_split(rng)
    texts = random_texts(rng, 200, [*WORDS, "refund", "refund", "strike"], length=20)
    window = log_rows([f"2026-12-06 10:{i % 60:02d}" for i in range(200)], texts=texts)
    metrics, new_tokens = input_drift(window, reference, {}, top_k=1)
    assert metrics["text_length_psi"] > 1.0
    assert metrics["text_length_median_window"] > 2 * metrics["text_length_median_reference"]
    tokens = " ".join(TextCleaner().transform(texts)).split()
    assert new_tokens.to_dict("records") == [
        {
            "token": "refund",
            "count": tokens.count("refund"),
            "share": tokens.count("refund") / len(tokens),
        }
    ]
    unknown = tokens.count("refund") + tokens.count("strike")
    assert metrics["unknown_token_share_window"] == pytest.approx(unknown / len(tokens))


def test_window_texts_are_cleaned_with_the_given_options():
    reference = pd.DataFrame({"text": ["great flight"] * 5, "clean_text": ["great flight"] * 5})
    window = log_rows(["2026-12-06 10:00"], texts=["GREAT Flight!"])
    kept_marks, _ = input_drift(window, reference, {}, top_k=5)
    no_marks, _ = input_drift(window, reference, {"replace_emphasis_marks": False}, top_k=5)
    # "exclmark" is the one token the reference never saw.
    assert kept_marks["unknown_token_share_window"] == pytest.approx(1 / 3)
    assert no_marks["unknown_token_share_window"] == 0.0


def test_reference_baseline_is_a_held_out_fifth_against_the_rest():
    # Every row: one shared word and one word of its own, so held-out tokens are half unknown.
    clean = [f"flight word{i}" for i in range(50)]
    reference = pd.DataFrame({"text": clean, "clean_text": clean})
    window = log_rows(["2026-12-06 10:00"], texts=["flight"])
    metrics, _ = input_drift(window, reference, {}, top_k=5)
    assert metrics["unknown_token_share_reference"] == pytest.approx(0.5)


def test_input_drift_without_logged_texts_keeps_the_length_metrics(caplog):
    rng = np.random.default_rng(2)
    reference = reference_split(rng, 100)
    window = log_rows(["2026-12-06 10:00", "2026-12-06 10:01"], texts=[None, None])
    with caplog.at_level(logging.INFO, logger="sentiment_mlops.pipelines.monitoring.nodes"):
        metrics, new_tokens = input_drift(window, reference, {}, top_k=5)
    assert set(metrics) == {
        "text_length_psi",
        "text_length_median_reference",
        "text_length_median_window",
    }
    assert new_tokens.empty and list(new_tokens.columns) == ["token", "count", "share"]
    assert "not logged" in caplog.text


def test_confidence_drift_medians_low_share_and_right_closed_bins():
    reference = pd.DataFrame({"confidence": [0.35, 0.55, 0.6, 0.95]})
    window = pd.DataFrame({"confidence": [0.4, 0.5, 0.6, 1.0]})
    metrics = confidence_drift(window, reference)
    assert metrics["low_confidence_share_reference"] == 0.5  # 0.6 itself is not low
    assert metrics["low_confidence_share_window"] == 0.5
    assert metrics["confidence_median_reference"] == pytest.approx(0.575)
    assert metrics["confidence_median_window"] == pytest.approx(0.55)
    # Same bins (0, .4], (.5, .6] x2 / (.9, 1] against (0, .4], (.4, .5], (.5, .6], (.9, 1].
    expected = population_stability_index(
        np.array([0.25, 0, 0.5, 0, 0, 0, 0.25]), np.array([0.25, 0.25, 0.25, 0, 0, 0, 0.25])
    )
    assert metrics["confidence_psi"] == pytest.approx(expected)


def test_confidence_drift_to_low_confidence_is_large():
    rng = np.random.default_rng(3)
    reference, window = predictions(rng, 2000), predictions(rng, 500, high=0.6)
    assert confidence_drift(window, reference)["confidence_psi"] > 0.5
    assert confidence_drift(predictions(rng, 500), reference)["confidence_psi"] < 0.05


# ---------------------------------------------------------------------------- feedback
def labelled_window() -> tuple[pd.DataFrame, pd.DataFrame]:
    window = pd.DataFrame(
        {
            "prediction_id": ["a", "b", "c", "d", "e"],
            "label": ["negative", "negative", "positive", "positive", "neutral"],
            "confidence": [0.9, 0.6, 0.8, 0.7, 0.5],
        }
    )
    feedback = pd.DataFrame(
        {
            "prediction_id": ["a", "b", "c", "d", "z"],  # "z" is outside the window
            "label": ["negative", "positive", "positive", "positive", "neutral"],
            "received_at": pd.to_datetime(["2026-12-06 10:00"] * 5, utc=True),
        }
    )
    return window, feedback


def test_feedback_below_the_minimum_only_counts():
    window, feedback = labelled_window()
    assert feedback_quality(window, feedback, min_feedback=5) == {"feedback_count": 4}


def test_feedback_metrics_on_the_joined_rows():
    window, feedback = labelled_window()
    metrics = feedback_quality(window, feedback, min_feedback=4)
    assert metrics["feedback_count"] == 4
    assert metrics["feedback_accuracy"] == pytest.approx(3 / 4)
    # negative: P 1/2 R 1 F1 2/3; positive: P 1 R 2/3 F1 0.8; no neutral anywhere.
    assert metrics["feedback_macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    joined = pd.DataFrame(
        {
            "label": ["negative", "negative", "positive", "positive"],
            "true_label": ["negative", "positive", "positive", "positive"],
            "confidence": [0.9, 0.6, 0.8, 0.7],
        }
    )
    assert metrics["feedback_expected_calibration_error"] == pytest.approx(
        expected_calibration_error(joined)
    )


# ---------------------------------------------------------------------------- decision
def quiet_metrics() -> dict[str, dict[str, float]]:
    """Metric groups as the nodes return them, every one below its threshold."""
    return {
        "class_mix": {"class_mix_psi": np.float64(0.01), "class_mix_chi2_p_value": 0.6},
        "input_drift": {
            "text_length_psi": 0.02,
            "unknown_token_share_window": 0.08,
            "unknown_token_share_reference": 0.05,
        },
        "confidence": {"confidence_psi": 0.03},
        "feedback": {"feedback_count": np.int64(40), "feedback_macro_f1": 0.80},
    }


def decide(groups: dict, served: float | None = 0.82, window_size: int = 500) -> dict:
    window = pd.DataFrame({"label": ["neutral"] * window_size})
    return recommend_retraining(
        groups["class_mix"],
        groups["input_drift"],
        groups["confidence"],
        groups["feedback"],
        served,
        window,
        MONITORING,
    )


def test_quiet_metrics_recommend_nothing_and_serialise_to_json():
    decision = decide(quiet_metrics())
    assert decision["retrain_recommended"] is False
    assert decision["retrain_reasons"] == []
    assert decision["drift_decided"] is True
    assert decision["window_predictions"] == 500
    assert json.loads(json.dumps(decision)) == decision
    assert type(decision["feedback_count"]) is int and type(decision["class_mix_psi"]) is float


@pytest.mark.parametrize(
    ("group", "changes", "reason"),
    [
        (
            "class_mix",
            {"class_mix_psi": 0.3, "class_mix_chi2_p_value": 0.001},
            "class mix PSI 0.300",
        ),
        ("input_drift", {"text_length_psi": 0.25}, "text length PSI 0.250 > 0.2"),
        ("input_drift", {"unknown_token_share_window": 0.16}, "unknown-token share 0.160"),
        ("confidence", {"confidence_psi": 0.4}, "confidence PSI 0.400 > 0.2"),
        ("feedback", {"feedback_macro_f1": 0.76}, "feedback macro-F1 0.760"),
    ],
)
def test_each_rule_fires_alone(group, changes, reason):
    groups = quiet_metrics()
    groups[group] = {**groups[group], **changes}
    decision = decide(groups)
    assert decision["retrain_recommended"] is True
    assert len(decision["retrain_reasons"]) == 1
    assert decision["retrain_reasons"][0].startswith(reason)


def test_class_mix_needs_both_a_large_psi_and_a_small_p_value():
    groups = quiet_metrics()
    groups["class_mix"] = {"class_mix_psi": 0.5, "class_mix_chi2_p_value": 0.2}
    assert decide(groups)["retrain_recommended"] is False


def test_no_drift_decision_below_min_predictions():
    groups = quiet_metrics()
    groups["input_drift"] = {**groups["input_drift"], "text_length_psi": 3.0}
    groups["confidence"] = {"confidence_psi": 3.0}
    decision = decide(groups, window_size=199)
    assert decision["drift_decided"] is False
    assert decision["retrain_recommended"] is False and decision["retrain_reasons"] == []


def test_feedback_rule_needs_the_served_score_and_feedback_metrics():
    groups = quiet_metrics()
    groups["feedback"] = {"feedback_count": 40, "feedback_macro_f1": 0.5}
    assert decide(groups, served=None)["retrain_recommended"] is False
    groups["feedback"] = {"feedback_count": 12}
    assert decide(groups, served=0.82)["retrain_recommended"] is False


def test_identical_distributions_recommend_nothing():
    rng = np.random.default_rng(4)
    reference = reference_split(rng, 300)
    reference_predictions = predictions(rng, 300)
    window = log_rows(
        [f"2026-12-06 10:{i % 60:02d}" for i in range(300)], texts=reference["text"].tolist()
    ).assign(
        label=reference_predictions["label"].to_numpy(),
        confidence=reference_predictions["confidence"].to_numpy(),
    )
    drift, _ = input_drift(window, reference, {}, top_k=5)
    decision = recommend_retraining(
        class_mix_drift(window, reference_predictions),
        drift,
        confidence_drift(window, reference_predictions),
        {"feedback_count": 0},
        0.8,
        window,
        MONITORING,
    )
    assert decision["drift_decided"] is True
    assert decision["retrain_reasons"] == []


# ------------------------------------------------------------------------ report, MLflow
def report_inputs(rng: np.random.Generator, texts_logged: bool, mix=(0.3, 0.2, 0.5)):
    """Reference, its predictions, a 250-prediction window drawn with class ``mix``."""
    reference = reference_split(rng, 200)
    reference_predictions = predictions(rng, 200)
    texts = random_texts(rng, 250, [*WORDS, "refund"])
    window = log_rows([f"2026-12-06 10:{i % 60:02d}" for i in range(250)], texts=texts)
    window = window.assign(**predictions(rng, 250, mix=mix))
    if not texts_logged:
        window = window.assign(text=None)  # text_length stays: the service always logs it
    drift, new_tokens = input_drift(window, reference, {}, top_k=5)
    return reference, reference_predictions, window, drift, new_tokens


def test_drift_report_traces_and_a_title_with_the_decision():
    rng = np.random.default_rng(5)
    reference, reference_predictions, window, drift, new_tokens = report_inputs(
        rng, True, mix=(0.7, 0.1, 0.2)
    )
    feedback = {"feedback_count": 40, "feedback_accuracy": 0.7, "feedback_macro_f1": 0.6}
    metrics = decide(
        {
            "class_mix": class_mix_drift(window, reference_predictions),
            "input_drift": drift,
            "confidence": confidence_drift(window, reference_predictions),
            "feedback": feedback,
        },
        window_size=len(window),
    )
    figure = plot_drift_report(metrics, window, reference_predictions, reference, new_tokens)
    names = [trace.name for trace in figure.data]
    assert names == [*["reference", "window"] * 4, "new tokens", "feedback"]
    assert list(figure.data[1].x) == CLASSES
    assert list(figure.data[1].y) == [metrics[f"window_share_{name}"] for name in CLASSES]
    assert list(figure.data[8].y) == ["refund"]
    title = figure.layout.title.text
    assert "Drift report: 250 predictions" in title
    assert "retrain recommended: yes" in title
    assert "class mix PSI" in title and "feedback macro-F1 0.600" in title
    assert "Feedback (40 labels)" in [annotation.text for annotation in figure.layout.annotations]


def test_drift_report_without_texts_new_tokens_or_feedback_says_so():
    rng = np.random.default_rng(6)
    reference, reference_predictions, window, drift, new_tokens = report_inputs(rng, False)
    metrics = decide(
        {
            "class_mix": class_mix_drift(window, reference_predictions),
            "input_drift": drift,
            "confidence": confidence_drift(window, reference_predictions),
            "feedback": {"feedback_count": 3},
        },
        window_size=len(window),
    )
    figure = plot_drift_report(metrics, window, reference_predictions, reference, new_tokens)
    notes = {annotation.text for annotation in figure.layout.annotations}
    assert {"texts not logged", "none", "fewer than 30 feedback labels"} <= notes
    assert [trace.name for trace in figure.data] == ["reference", "window"] * 3
    assert figure.layout.title.text.endswith("retrain recommended: no")


def test_mlflow_metrics_keep_numbers_and_booleans_only():
    metrics = {
        "class_mix_psi": 0.25,
        "window_predictions": 300,
        "retrain_recommended": True,
        "drift_decided": False,
        "retrain_reasons": ["class mix PSI 0.250 > 0.2"],
        "note": "text",
    }
    assert mlflow_metrics(metrics) == {
        "class_mix_psi": {"value": 0.25, "step": 0},
        "window_predictions": {"value": 300.0, "step": 0},
        "retrain_recommended": {"value": 1.0, "step": 0},
        "drift_decided": {"value": 0.0, "step": 0},
    }
