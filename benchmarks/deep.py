"""Quality and CPU/GPU time of the deep models on the project's own splits.

For each source the data_processing pipeline builds the splits (dedupe, stratified, seed 42).
airline and imdb: fit on train + validation (80 %), score the 20 % test split; semeval: fit on
train, score the TweetEval validation split. Each model is ``Pipeline(TextCleaner, network)``
on raw text, as training ships it. Prints a markdown table, writes
``benchmarks/results/deep_<source><tag>.json`` and rewrites ``benchmarks/results/deep.md``
from every ``deep_*.json`` there (the docs include that file).

    python benchmarks/deep.py --sources airline --models bilstm,transformer
    python benchmarks/deep.py --table-only     # only rewrite deep.md from the saved results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.pipeline import Pipeline

from sentiment_mlops.networks.architectures import (
    BiLSTMClassifier,
    RegionCNNClassifier,
    TransformerEncoderClassifier,
)
from sentiment_mlops.text_cleaning import TextCleaner

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results"

# Longer texts (IMDb reviews) get more tokens; everything else is each class's default.
MAX_LENGTH = {"imdb": 256, "amazon_alexa": 128}
MODELS = {
    "bilstm": BiLSTMClassifier,
    "transformer": TransformerEncoderClassifier,
    "region_cnn": RegionCNNClassifier,
}
TABLE_HEADER = (
    "| source | model | settings (besides the defaults) | texts fit / scored | macro-F1 | accuracy "
    "| macro-recall | s/epoch | epochs (best) |\n|---|---|---|---|---:|---:|---:|---:|---|"
)


def load_splits(source: str) -> dict[str, pd.DataFrame]:
    """Run data_processing for ``source`` and load its train / validation / test splits."""
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(PROJECT_ROOT, runtime_params={"source": source}) as session:
        session.run(pipeline_names=["data_processing"])
    with KedroSession.create(PROJECT_ROOT, runtime_params={"source": source}) as session:
        catalog = session.load_context().catalog
        return {name: catalog.load(f"{name}_split") for name in ("train", "validation", "test")}


def fit_and_score(  # noqa: PLR0913
    name: str,
    source: str,
    fit: pd.DataFrame,
    score: pd.DataFrame,
    *,
    max_epochs: int,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Fit ``Pipeline(TextCleaner, <name>)`` on raw texts and score it."""
    options = {"max_epochs": max_epochs, **params}
    if source in MAX_LENGTH:
        options["max_length"] = MAX_LENGTH[source]
    model = Pipeline([("cleaner", TextCleaner()), ("classifier", MODELS[name](**options))])
    started = time.perf_counter()
    model.fit(fit["text"].tolist(), fit["label"].tolist())
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.predict(score["text"].tolist())
    predict_seconds = time.perf_counter() - started
    network = model.named_steps["classifier"]
    epoch_seconds = [epoch["epoch_seconds"] for epoch in network.history_]
    return {
        "source": source,
        "model": name,
        "macro_f1": f1_score(score["label"], predicted, average="macro"),
        "accuracy": accuracy_score(score["label"], predicted),
        "macro_recall": recall_score(score["label"], predicted, average="macro"),
        "seconds_per_epoch": sum(epoch_seconds) / len(epoch_seconds),
        "epochs_run": network.n_epochs_,
        "best_epoch": network.best_epoch_,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "fit_rows": len(fit),
        "scored_rows": len(score),
        "params": {k: v for k, v in network.get_params().items() if k != "verbose"},
    }


def non_default_settings(row: dict[str, Any]) -> str:
    """The network's parameters that differ from its class defaults, e.g. ``tokenizer=bpe``."""
    defaults = MODELS[row["model"]]().get_params()
    changed = [
        f"`{name}={value}`"
        for name, value in row["params"].items()
        if name in defaults and value != defaults[name]
    ]
    return ", ".join(changed) or "defaults"


def table_row(row: dict[str, Any]) -> str:
    """One result as a row under ``TABLE_HEADER``."""
    return (
        f"| {row['source']} | {row['model']} | {non_default_settings(row)} "
        f"| {row['fit_rows']:,} / {row['scored_rows']:,} | {row['macro_f1']:.3f} | {row['accuracy']:.3f} | {row['macro_recall']:.3f} "
        f"| {row['seconds_per_epoch']:.1f} | {row['epochs_run']} ({row['best_epoch']}) |"
    )


def markdown(results_dir: Path) -> str:
    """Every saved ``deep_*.json`` result as one table, with the machine that measured it."""
    rows, machines = [], set()
    for path in sorted(results_dir.glob("deep_*.json")):
        saved = json.loads(path.read_text())
        rows += saved["results"]
        meta = saved["meta"]
        machines.add(f"{meta['device']}, {meta['machine']}, torch {meta['torch']}")
    scored = {
        f"{row['source']}: fit on {row['fit_rows']:,}, scored on {row['scored_rows']:,}"
        for row in rows
    }
    return "\n".join(
        [
            "# Deep model benchmark",
            "",
            "Written by `python benchmarks/deep.py` from every `deep_<source><tag>.json` in "
            "this folder. airline and imdb: fit on train + validation, scored on the test "
            "split; semeval: fit on train, scored on the validation split "
            f"({'; '.join(sorted(scored))} texts). Measured on: {'; '.join(sorted(machines))}.",
            "",
            TABLE_HEADER,
            *[table_row(row) for row in rows],
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="airline")
    parser.add_argument("--models", default="bilstm,transformer")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument(
        "--params", default="{}", help='JSON params for every model, e.g. {"tokenizer": "bpe"}'
    )
    parser.add_argument("--tag", default="", help="suffix of the results file name")
    parser.add_argument(
        "--table-only", action="store_true", help="only rewrite deep.md from the saved results"
    )
    args = parser.parse_args()
    if args.table_only:
        (RESULTS / "deep.md").write_text(markdown(RESULTS))
        return
    # The pipeline's kedro-mlflow hooks log a run; keep it out of the project's store.
    os.environ.setdefault(
        "MLFLOW_TRACKING_URI", f"sqlite:///{tempfile.mkdtemp(prefix='deep-bench-')}/mlflow.db"
    )
    device = "cuda" if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)"
    rows = []
    for source in args.sources.split(","):
        splits = load_splits(source)
        if source == "semeval":  # TweetEval validation is the scored split here
            fit, score = splits["train"], splits["validation"]
        else:
            fit, score = pd.concat([splits["train"], splits["validation"]]), splits["test"]
        results = [
            fit_and_score(
                name, source, fit, score, max_epochs=args.max_epochs, params=json.loads(args.params)
            )
            for name in args.models.split(",")
        ]
        RESULTS.mkdir(parents=True, exist_ok=True)
        meta = {"device": device, "machine": platform.machine(), "torch": torch.__version__}
        (RESULTS / f"deep_{source}{args.tag}.json").write_text(
            json.dumps({"meta": meta, "results": results}, indent=2)
        )
        rows.extend(results)
    (RESULTS / "deep.md").write_text(markdown(RESULTS))
    print(f"device: {device}\n")  # noqa: T201 - a benchmark prints its table
    print("\n".join([TABLE_HEADER, *[table_row(row) for row in rows]]))  # noqa: T201


if __name__ == "__main__":
    main()
