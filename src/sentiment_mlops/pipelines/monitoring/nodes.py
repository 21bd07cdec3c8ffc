"""Nodes of the monitoring pipeline: what the served model saw in production, compared with
the training split it learnt from, and whether that calls for retraining.

The window's predictions come from the service's prediction log, the correct labels (when
users sent any) from its feedback log. Drift is measured on the predicted class mix, the
text lengths, the share of words the training data never contained, and the confidence;
the feedback labels, when there are enough, measure quality directly. Parameters
(conf/base/parameters_monitoring.yml)::

    monitoring:
      window: {hours: 24, end: null}     # end: ISO time (UTC) or null = now
      min_predictions: 200               # fewer in the window: no drift decision
      min_feedback: 30                   # fewer feedback labels: no feedback metrics
      new_tokens_top_k: 20
      thresholds:
        class_mix_psi: 0.2               # AND the chi-square p-value below class_mix_p_value
        class_mix_p_value: 0.01
        text_length_psi: 0.2
        unknown_token_share_increase: 0.10   # absolute, over the reference's own rate
        confidence_psi: 0.2
        feedback_macro_f1_drop: 0.05     # below the served version's test macro-F1 by more than this
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import chisquare
from sklearn.metrics import accuracy_score, f1_score

from sentiment_mlops.pipelines.evaluation.nodes import (
    expected_calibration_error,
    to_mlflow_metrics,
)
from sentiment_mlops.text_cleaning import TextCleaner

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ the window
_PARTITION_RE = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})(?:/|$)")
_HOUR = pd.Timedelta(hours=1)


def _partition_hour(partition_id: str) -> pd.Timestamp:
    """The UTC hour a log partition covers, from its ``date=YYYY-MM-DD/hour=HH`` path."""
    match = _PARTITION_RE.search(partition_id)
    try:
        if match is None:
            raise ValueError("no date=/hour= directories")
        return pd.Timestamp(f"{match[1]} {match[2]}:00", tz="UTC")
    except ValueError as error:  # also an impossible date or hour, e.g. hour=24
        raise ValueError(
            f"Prediction log partition {partition_id!r} is not "
            f"'date=YYYY-MM-DD/hour=HH/<file>' ({error})"
        ) from error


def _window_bounds(window: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` of the window, both UTC; ``end`` null means now."""
    end = window.get("end")
    end = pd.Timestamp.now(tz="UTC") if end is None else pd.Timestamp(end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return end - pd.Timedelta(hours=window["hours"]), end


def predictions_in_window(
    prediction_log: dict[str, Callable[[], pd.DataFrame]], window: dict[str, Any]
) -> pd.DataFrame:
    """The logged predictions with ``end - hours < predicted_at <= end``, oldest first.

    Only the partitions whose hour overlaps the window are loaded: the log grows by the
    hour and is read from object storage. Raises ``ValueError`` when the window is empty.
    """
    start, end = _window_bounds(window)
    hours = {partition: _partition_hour(partition) for partition in prediction_log}
    selected = sorted(p for p, hour in hours.items() if hour <= end and hour + _HOUR > start)
    rows = pd.concat([prediction_log[p]() for p in selected] or [pd.DataFrame()])
    if not rows.empty:
        predicted_at = pd.to_datetime(rows["predicted_at"], utc=True)
        rows = rows.assign(predicted_at=predicted_at)[
            (predicted_at > start) & (predicted_at <= end)
        ]
    if rows.empty:
        raise ValueError(
            f"No logged predictions between {start.isoformat()} and {end.isoformat()} "
            f"({window['hours']} h): the prediction log has {len(prediction_log)} partitions, "
            f"{len(selected)} of them in the window. Check that the service logs predictions "
            "(SENTIMENT_PREDICTION_LOG_SAMPLE > 0) and that the catalog's prediction_log "
            "points where it writes them (SENTIMENT_PREDICTION_LOG_DIR)."
        )
    return rows.sort_values("predicted_at", kind="stable").reset_index(drop=True)


FEEDBACK_COLUMNS = ["prediction_id", "label", "received_at"]


def latest_feedback(
    prediction_feedback: dict[str, Callable[[], pd.DataFrame]],
) -> pd.DataFrame:
    """All feedback, one row per ``prediction_id``: a correction replaces the earlier label."""
    if not prediction_feedback:
        return pd.DataFrame(
            {
                "prediction_id": pd.Series(dtype="str"),
                "label": pd.Series(dtype="str"),
                "received_at": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
    frames = [prediction_feedback[partition]() for partition in sorted(prediction_feedback)]
    feedback = pd.concat(frames, ignore_index=True)[FEEDBACK_COLUMNS]
    # Stable sort: of two labels received at the same time, the later partition's wins.
    feedback = feedback.sort_values("received_at", kind="stable")
    return feedback.drop_duplicates("prediction_id", keep="last").reset_index(drop=True)


# ------------------------------------------------------------------------------- drift
SHARE_FLOOR = 1e-4


def population_stability_index(reference_shares: np.ndarray, window_shares: np.ndarray) -> float:
    """PSI = sum((w - r) * ln(w / r)) over bins; 0 for identical distributions.

    Shares are floored at ``SHARE_FLOOR`` (not renormalised) so that a bin empty on one
    side adds a large but finite term instead of infinity.
    """
    reference = np.maximum(np.asarray(reference_shares, dtype=float), SHARE_FLOOR)
    window = np.maximum(np.asarray(window_shares, dtype=float), SHARE_FLOOR)
    if reference.shape != window.shape:
        raise ValueError(
            f"PSI needs as many bins on both sides: {reference.shape} vs {window.shape}"
        )
    return float(np.sum((window - reference) * np.log(window / reference)))


def _shares(counts: np.ndarray) -> np.ndarray:
    """Counts as fractions of their total (all zeros when there is nothing to count)."""
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts, dtype=float)


def _label_counts(labels: pd.Series, classes: list[str]) -> np.ndarray:
    return labels.value_counts().reindex(classes, fill_value=0).to_numpy(dtype=float)


def class_mix_drift(
    window_predictions: pd.DataFrame, reference_predictions: pd.DataFrame
) -> dict[str, float]:
    """PSI and chi-square p-value of the window's predicted class mix against the reference's.

    PSI says how large the shift is, the p-value whether it can be told from sampling noise;
    on a small window only the second guards against a false alarm.
    """
    classes = sorted(set(reference_predictions["label"]) | set(window_predictions["label"]))
    reference_shares = _shares(_label_counts(reference_predictions["label"], classes))
    window_counts = _label_counts(window_predictions["label"], classes)
    window_shares = _shares(window_counts)
    # Floored like the PSI, then renormalised: chisquare wants equal observed/expected totals.
    expected = np.maximum(reference_shares, SHARE_FLOOR)
    expected = expected / expected.sum() * window_counts.sum()
    # One class on both sides: identical mixes, and chisquare has no degree of freedom.
    p_value = chisquare(window_counts, expected).pvalue if len(classes) > 1 else 1.0
    metrics = {
        "class_mix_psi": population_stability_index(reference_shares, window_shares),
        "class_mix_chi2_p_value": float(p_value),
    }
    for name, reference_share, window_share in zip(
        classes, reference_shares, window_shares, strict=True
    ):
        metrics[f"reference_share_{name}"] = float(reference_share)
        metrics[f"window_share_{name}"] = float(window_share)
    return metrics


LENGTH_BINS = 10


def _length_psi(reference_lengths: np.ndarray, window_lengths: np.ndarray) -> float:
    """PSI over the reference's length deciles (fewer bins where deciles tie)."""
    inner_edges = np.unique(
        np.quantile(reference_lengths, np.linspace(0, 1, LENGTH_BINS + 1))[1:-1]
    )

    def shares(lengths: np.ndarray) -> np.ndarray:
        # The outer bins are open: lengths beyond the reference's range still count.
        bins = np.searchsorted(inner_edges, lengths, side="right")
        return _shares(np.bincount(bins, minlength=len(inner_edges) + 1).astype(float))

    return population_stability_index(shares(reference_lengths), shares(window_lengths))


def _tokens(cleaned_texts: Iterable[str]) -> list[str]:
    return [token for text in cleaned_texts for token in text.split()]


def _unknown_share(tokens: list[str], vocabulary: set[str]) -> float:
    return sum(token not in vocabulary for token in tokens) / len(tokens) if tokens else 0.0


HELD_OUT_SHARE = 0.2
HELD_OUT_SEED = 0


def _reference_unknown_share(clean_texts: pd.Series) -> float:
    """Unknown-token share of a seeded 20% of the reference rows against the other 80%."""
    rows = np.random.default_rng(HELD_OUT_SEED).permutation(len(clean_texts))
    held_out = round(len(rows) * HELD_OUT_SHARE)
    texts = clean_texts.to_numpy()
    vocabulary = set(_tokens(texts[rows[held_out:]]))
    return _unknown_share(_tokens(texts[rows[:held_out]]), vocabulary)


def input_drift(
    window_predictions: pd.DataFrame,
    reference: pd.DataFrame,
    cleaning: dict[str, Any],
    top_k: int,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Text length PSI and medians; unknown-token shares and the top new tokens.

    The window's unknown-token share (tokens absent from the reference's vocabulary) is
    compared with the reference's own rate, measured on a held-out 20% of its rows against
    the vocabulary of the other 80%: against its full vocabulary the reference would score 0,
    whereas new texts from the same domain always bring some unseen words (names, typos).
    The baseline's vocabulary comes from 80% of the rows, the window's from all of them, so
    the baseline errs high: an increase over it is not an artefact of the split.
    """
    reference_lengths = reference["text"].str.len().to_numpy(dtype=float)
    window_lengths = window_predictions["text_length"].to_numpy(dtype=float)
    metrics = {
        "text_length_psi": _length_psi(reference_lengths, window_lengths),
        "text_length_median_reference": float(np.median(reference_lengths)),
        "text_length_median_window": float(np.median(window_lengths)),
    }
    new_tokens = pd.DataFrame({"token": pd.Series(dtype="str"), "count": [], "share": []})
    texts = window_predictions["text"].dropna()
    if texts.empty:
        logger.info(
            "The window's texts were not logged (text logging off in the service): "
            "text length drift only, no unknown-token share"
        )
        return metrics, new_tokens
    vocabulary = set(_tokens(reference["clean_text"]))
    window_tokens = _tokens(TextCleaner(**cleaning).transform(texts))
    metrics["unknown_token_share_window"] = _unknown_share(window_tokens, vocabulary)
    metrics["unknown_token_share_reference"] = _reference_unknown_share(reference["clean_text"])
    unknown = Counter(token for token in window_tokens if token not in vocabulary)
    # Ties broken alphabetically, so the table does not depend on the log's order.
    top = sorted(unknown.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    if top:
        new_tokens = pd.DataFrame(top, columns=["token", "count"])
        new_tokens["share"] = new_tokens["count"] / len(window_tokens)
    return metrics, new_tokens


CONFIDENCE_EDGES = np.array([0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
LOW_CONFIDENCE = 0.6


def _confidence_shares(confidence: pd.Series) -> np.ndarray:
    """Shares per right-closed confidence bin (0, .4], (.4, .5], ..., (.9, 1]."""
    bins = np.searchsorted(CONFIDENCE_EDGES[1:-1], confidence.to_numpy(dtype=float), side="left")
    return _shares(np.bincount(bins, minlength=len(CONFIDENCE_EDGES) - 1).astype(float))


def confidence_drift(
    window_predictions: pd.DataFrame, reference_predictions: pd.DataFrame
) -> dict[str, float]:
    """Confidence PSI, medians, and the share of low-confidence (< 0.6) predictions."""
    reference, window = reference_predictions["confidence"], window_predictions["confidence"]
    return {
        "confidence_psi": population_stability_index(
            _confidence_shares(reference), _confidence_shares(window)
        ),
        "confidence_median_reference": float(reference.median()),
        "confidence_median_window": float(window.median()),
        "low_confidence_share_reference": float((reference < LOW_CONFIDENCE).mean()),
        "low_confidence_share_window": float((window < LOW_CONFIDENCE).mean()),
    }


# ---------------------------------------------------------------------------- feedback
def feedback_quality(
    window_predictions: pd.DataFrame, feedback: pd.DataFrame, min_feedback: int
) -> dict[str, float]:
    """Accuracy, macro-F1 and ECE of the window's predictions that received a correct label.

    Only ``feedback_count`` below ``min_feedback`` labels: a handful of (often complaining)
    users would make the scores noise.
    """
    labelled = window_predictions[["prediction_id", "label", "confidence"]].merge(
        feedback[["prediction_id", "label"]].rename(columns={"label": "true_label"}),
        on="prediction_id",
        how="inner",
    )
    metrics: dict[str, float] = {"feedback_count": len(labelled)}
    if len(labelled) < max(min_feedback, 1):
        return metrics
    truth, predicted = labelled["true_label"], labelled["label"]
    labels = sorted(set(truth) | set(predicted))
    metrics["feedback_accuracy"] = float(accuracy_score(truth, predicted))
    metrics["feedback_macro_f1"] = float(
        f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
    )
    metrics["feedback_expected_calibration_error"] = expected_calibration_error(labelled)
    return metrics


# ---------------------------------------------------------------------------- decision
def _plain(value: Any) -> Any:
    """numpy scalars as the Python values ``json`` can write."""
    return value.item() if isinstance(value, np.generic) else value


def _drift_reasons(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """One sentence per drift rule that fires."""
    reasons = []
    psi, p_value = metrics["class_mix_psi"], metrics["class_mix_chi2_p_value"]
    if psi > thresholds["class_mix_psi"] and p_value < thresholds["class_mix_p_value"]:
        reasons.append(
            f"class mix PSI {psi:.3f} > {thresholds['class_mix_psi']} "
            f"and chi-square p {p_value:.2g} < {thresholds['class_mix_p_value']}"
        )
    for name, metric in (("text length", "text_length_psi"), ("confidence", "confidence_psi")):
        if metrics[metric] > thresholds[metric]:
            reasons.append(f"{name} PSI {metrics[metric]:.3f} > {thresholds[metric]}")
    if "unknown_token_share_window" in metrics:
        window, reference = (
            metrics["unknown_token_share_window"],
            metrics["unknown_token_share_reference"],
        )
        if window - reference > thresholds["unknown_token_share_increase"]:
            reasons.append(
                f"unknown-token share {window:.3f} exceeds the reference's {reference:.3f} "
                f"by more than {thresholds['unknown_token_share_increase']}"
            )
    return reasons


def recommend_retraining(  # noqa: PLR0913, PLR0917 - one input per metric group, as Kedro passes them
    class_mix: dict[str, float],
    input_drift: dict[str, float],
    confidence: dict[str, float],
    feedback: dict[str, float],
    served_test_macro_f1: float | None,
    window_predictions: pd.DataFrame,
    monitoring: dict[str, Any],
) -> dict[str, Any]:
    """All metrics in one flat, JSON-serialisable dict, with the decision and its reasons.

    The drift rules apply only to a window of at least ``min_predictions`` predictions
    (``drift_decided``); the feedback rule has its own minimum, ``min_feedback``, already
    applied by :func:`feedback_quality`, so it applies to any window.
    """
    metrics = {**class_mix, **input_drift, **confidence, **feedback}
    metrics = {name: _plain(value) for name, value in metrics.items()}
    window_size = len(window_predictions)
    metrics["window_predictions"] = window_size
    metrics["min_feedback"] = int(monitoring["min_feedback"])
    metrics["drift_decided"] = bool(window_size >= monitoring["min_predictions"])
    thresholds = monitoring["thresholds"]
    reasons = _drift_reasons(metrics, thresholds) if metrics["drift_decided"] else []
    if served_test_macro_f1 is not None:
        metrics["served_test_macro_f1"] = float(served_test_macro_f1)
        floor = served_test_macro_f1 - thresholds["feedback_macro_f1_drop"]
        if "feedback_macro_f1" in metrics and metrics["feedback_macro_f1"] < floor:
            reasons.append(
                f"feedback macro-F1 {metrics['feedback_macro_f1']:.3f} is more than "
                f"{thresholds['feedback_macro_f1_drop']} below the served model's test "
                f"macro-F1 {served_test_macro_f1:.3f}"
            )
    metrics["retrain_recommended"] = bool(reasons)
    metrics["retrain_reasons"] = reasons
    return metrics


def mlflow_metrics(drift_metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The numeric entries (booleans as 0/1) in kedro-mlflow's metrics format."""
    numeric = {
        name: float(value) for name, value in drift_metrics.items() if isinstance(value, Real)
    }
    return to_mlflow_metrics(numeric)


# -------------------------------------------------------------------------------- plot
REFERENCE_COLOR = "#9e9e9e"
WINDOW_COLOR = "#1f77b4"
HISTOGRAM_BINS = 30


def _histogram_bars(values: dict[str, np.ndarray], edges: np.ndarray) -> list[go.Bar]:
    """Overlaid, normalised histograms as pre-binned bars, one per side.

    Binned here rather than by a ``go.Histogram``: the figure would otherwise embed every
    reference value, and the reference can hold hundreds of thousands of texts.
    """
    bars = []
    for name, side in values.items():
        counts, _ = np.histogram(np.clip(side, edges[0], edges[-1]), bins=edges)
        bars.append(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=_shares(counts.astype(float)),
                width=np.diff(edges),
                name=name,
                legendgroup=name,
                showlegend=False,
                opacity=0.6,
                marker_color=REFERENCE_COLOR if name == "reference" else WINDOW_COLOR,
            )
        )
    return bars


def _side_by_side(name: str, x: list[str], y: list[float], showlegend: bool = False) -> go.Bar:
    """A reference (left) or window (right) bar per category; the layout overlays bars."""
    return go.Bar(
        x=x,
        y=y,
        name=name,
        legendgroup=name,
        showlegend=showlegend,
        width=0.4,
        offset=-0.4 if name == "reference" else 0.0,
        marker_color=REFERENCE_COLOR if name == "reference" else WINDOW_COLOR,
    )


def _note(figure: go.Figure, text: str, row: int, col: int) -> None:
    """A message in the middle of an empty panel."""
    figure.add_annotation(
        text=text, x=0.5, y=0.5, xref="x domain", yref="y domain", showarrow=False, row=row, col=col
    )


def _title(drift_metrics: dict[str, Any], window_predictions: pd.DataFrame) -> str:
    """Window, size and decision, with its reasons on a second line."""
    predicted_at = window_predictions["predicted_at"]
    title = (
        f"Drift report: {drift_metrics['window_predictions']} predictions, "
        f"{predicted_at.min():%Y-%m-%d %H:%M} to {predicted_at.max():%Y-%m-%d %H:%M} UTC"
    )
    if not drift_metrics["drift_decided"]:
        title += " (too few for a drift decision)"
    if drift_metrics["retrain_recommended"]:
        reasons = "; ".join(drift_metrics["retrain_reasons"])
        return f"{title} — retrain recommended: yes<br><sup>{reasons}</sup>"
    return f"{title} — retrain recommended: no"


def plot_drift_report(
    drift_metrics: dict[str, Any],
    window_predictions: pd.DataFrame,
    reference_predictions: pd.DataFrame,
    reference: pd.DataFrame,
    new_tokens: pd.DataFrame,
) -> go.Figure:
    """One 2 x 3 figure: class mix, text length, confidence, unknown tokens, new tokens,
    feedback; the reference in grey, the window in colour."""
    feedback_title = f"Feedback ({drift_metrics.get('feedback_count', 0)} labels)"
    figure = make_subplots(
        rows=2,
        cols=3,
        subplot_titles=[
            "Predicted class mix",
            "Text length (characters)",
            "Confidence",
            "Unknown-token share",
            "Top new tokens (window)",
            feedback_title,
        ],
    )
    classes = sorted(set(reference_predictions["label"]) | set(window_predictions["label"]))
    for name, labels in (
        ("reference", reference_predictions["label"]),
        ("window", window_predictions["label"]),
    ):
        shares = _shares(_label_counts(labels, classes)).tolist()
        figure.add_trace(_side_by_side(name, classes, shares, showlegend=True), row=1, col=1)
    lengths = {
        "reference": reference["text"].str.len().to_numpy(dtype=float),
        "window": window_predictions["text_length"].to_numpy(dtype=float),
    }
    # Up to the 99th percentile: a few very long reviews would squash the rest into one bin.
    top = max(np.percentile(side, 99) for side in lengths.values())
    for bar in _histogram_bars(lengths, np.linspace(0, max(top, 1.0), HISTOGRAM_BINS + 1)):
        figure.add_trace(bar, row=1, col=2)
    confidences = {
        "reference": reference_predictions["confidence"].to_numpy(dtype=float),
        "window": window_predictions["confidence"].to_numpy(dtype=float),
    }
    for bar in _histogram_bars(confidences, np.linspace(0, 1, 21)):
        figure.add_trace(bar, row=1, col=3)
    if "unknown_token_share_window" in drift_metrics:
        for name in ("reference", "window"):
            share = drift_metrics[f"unknown_token_share_{name}"]
            figure.add_trace(_side_by_side(name, [name], [share]), row=2, col=1)
    else:
        _note(figure, "texts not logged", row=2, col=1)
    if new_tokens.empty:
        _note(figure, "none", row=2, col=2)
    else:
        # Reversed: plotly draws the first category at the bottom.
        figure.add_trace(
            go.Bar(
                x=new_tokens["count"][::-1].tolist(),
                y=new_tokens["token"][::-1].tolist(),
                orientation="h",
                name="new tokens",
                showlegend=False,
                marker_color=WINDOW_COLOR,
            ),
            row=2,
            col=2,
        )
        figure.update_yaxes(dtick=1, tickfont_size=10, row=2, col=2)  # a label for every token
    if "feedback_macro_f1" in drift_metrics:
        figure.add_trace(
            go.Bar(
                x=["accuracy", "macro-F1"],
                y=[drift_metrics["feedback_accuracy"], drift_metrics["feedback_macro_f1"]],
                name="feedback",
                showlegend=False,
                marker_color=WINDOW_COLOR,
            ),
            row=2,
            col=3,
        )
        if "served_test_macro_f1" in drift_metrics:
            figure.add_hline(
                y=drift_metrics["served_test_macro_f1"],
                line_dash="dash",
                line_color=REFERENCE_COLOR,
                annotation_text="test macro-F1",
                row=2,
                col=3,
            )
    else:
        _note(figure, f"fewer than {drift_metrics['min_feedback']} feedback labels", row=2, col=3)
    figure.update_layout(title=_title(drift_metrics, window_predictions), barmode="overlay")
    return figure
