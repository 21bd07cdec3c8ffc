"""Behavioural benchmark: accuracy per capability on hand-written cases, models side by side.

The cases are in ``benchmarks/behaviour/cases.yml`` (negation, neutral statements of fact,
questions, sarcasm, emoji-only texts, other domains, casing and mentions; at least ten each,
written for this project). Each model is given as ``NAME=URI``: a registered version
(``models:/sentiment/3``, ``models:/sentiment@champion``), a run's model (``runs:/<id>/model``)
or a local MLflow model directory, loaded as the service loads it, and scored on the raw texts.

    MLFLOW_TRACKING_URI=sqlite:///$PWD/mlflow.db .venv/bin/python benchmarks/behaviour.py \\
        --model linear=models:/sentiment/2 --model pretrained=models:/sentiment@champion \\
        --output benchmarks/results/behaviour.md

It prints one table, a row per category and a column per model (accuracy, and the count of
cases), and with ``--failures`` the cases each model gets wrong.
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sentiment_mlops.mlflow_registry import load_packaged_model
from sentiment_mlops.prediction import predict_frame

CASES = Path(__file__).resolve().parent / "behaviour" / "cases.yml"
MIN_CASES_PER_CATEGORY = 10


def load_cases(path: Path = CASES) -> pd.DataFrame:
    """The cases as a table (``category``, ``text``, ``label``), checked: every category has at
    least ten cases, each a non-empty text with a label, and no text appears twice."""
    categories = yaml.safe_load(path.read_text())
    rows = [
        {"category": category, "text": case["text"], "label": case["label"]}
        for category, cases in categories.items()
        for case in cases
    ]
    table = pd.DataFrame(rows, columns=["category", "text", "label"])
    small = {
        name: count
        for name, count in table.groupby("category").size().items()
        if count < MIN_CASES_PER_CATEGORY
    }
    if small:
        raise ValueError(
            f"{path}: categories with fewer than {MIN_CASES_PER_CATEGORY} cases: {small}"
        )
    if not table["text"].map(lambda text: isinstance(text, str) and text.strip() != "").all():
        raise ValueError(f"{path}: every case needs a non-empty text.")
    repeated = table.loc[table["text"].duplicated(), "text"].tolist()
    if repeated:
        raise ValueError(f"{path}: texts appear twice: {repeated}")
    return table


def score(estimator: Any, cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with each case's predicted label and whether it is right."""
    classes = [str(name) for name in estimator.classes_]
    unknown = sorted(set(cases["label"]) - set(classes))
    if unknown:
        raise ValueError(
            f"The cases use labels {unknown} that the model does not know (its classes: "
            f"{classes}); score a 3-class model."
        )
    # The labels the inference pipeline and the service give these texts.
    predicted = predict_frame(estimator, cases["text"].to_numpy(dtype=object))["label"].to_numpy()
    return cases.assign(predicted=predicted, right=predicted == cases["label"].to_numpy())


def accuracy_table(scored: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy per category (rows, in the cases' order, then ``all``) for each model (columns)."""
    columns = {}
    for name, frame in scored.items():
        by_category = frame.groupby("category", sort=False)["right"].mean()
        columns[name] = pd.concat([by_category, pd.Series({"all": frame["right"].mean()})])
    counts = next(iter(scored.values())).groupby("category", sort=False).size()
    table = pd.DataFrame(columns)
    table.insert(0, "cases", pd.concat([counts, pd.Series({"all": counts.sum()})]))
    return table


def markdown(table: pd.DataFrame, models: dict[str, str]) -> str:
    """The table, accuracies to two decimals, and which model each column is."""
    lines = ["| category | cases | " + " | ".join(models) + " |"]
    lines.append("|---|---:|" + "---:|" * len(models))
    for category, row in table.iterrows():
        cells = " | ".join(f"{row[name]:.2f}" for name in models)
        lines.append(f"| {category} | {int(row['cases'])} | {cells} |")
    lines.append("")
    lines.extend(f"- `{name}`: `{uri}`" for name, uri in models.items())
    return "\n".join(lines) + "\n"


def parse_models(values: list[str]) -> dict[str, str]:
    """``NAME=URI`` pairs, in the order given."""
    models = {}
    for value in values:
        name, separator, uri = value.partition("=")
        if not separator or not name or not uri:
            raise SystemExit(
                f"--model {value!r}: write NAME=URI, such as linear=models:/sentiment/2"
            )
        models[name] = uri
    return models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=URI (repeat)")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--output", type=Path, help="also write the table (markdown) here")
    parser.add_argument("--failures", action="store_true", help="list the cases each model misses")
    arguments = parser.parse_args(argv)
    models = parse_models(arguments.model)
    cases = load_cases(arguments.cases)
    scored = {name: score(load_packaged_model(uri)[1], cases) for name, uri in models.items()}
    text = markdown(accuracy_table(scored), models)
    print(text)
    if arguments.failures:
        for name, frame in scored.items():
            print(f"\n{name} misses:")
            for _, case in frame[~frame["right"]].iterrows():
                print(
                    f"  [{case['category']}] {case['text']!r}: {case['predicted']} (not {case['label']})"
                )
    if arguments.output:
        command = shlex.join(["python", "benchmarks/behaviour.py", *(argv or sys.argv[1:])])
        arguments.output.write_text(
            f"# Behavioural suite: accuracy per category\n\nCommand: `{command}` "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Cases: `benchmarks/behaviour/cases.yml`.\n\n"
            + text
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
