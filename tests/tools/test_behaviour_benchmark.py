"""The behavioural suite: its hand-written cases are well formed, and the benchmark scores
registered models on them, per category, side by side."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml

from tests.support.projects import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "benchmarks" / "behaviour.py"
CATEGORIES = [
    "negation",
    "neutral_facts",
    "questions",
    "sarcasm",
    "emoji_only",
    "other_domains",
    "casing_mentions",
]


def _behaviour():
    """benchmarks/behaviour.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("behaviour", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.unit
def test_every_category_has_at_least_ten_distinct_labelled_cases():
    cases = _behaviour().load_cases()
    counts = cases.groupby("category", sort=False).size()
    assert list(counts.index) == CATEGORIES
    assert (counts >= 10).all()
    assert set(cases["label"]) == {"negative", "neutral", "positive"}
    assert not cases["text"].duplicated().any()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ({"few": [{"text": f"text {n}", "label": "positive"} for n in range(9)]}, "fewer than 10"),
        (
            {"twice": [{"text": "same", "label": "positive"} for _ in range(10)]},
            r"texts appear twice: \['same'",
        ),
        (
            {"blank": [{"text": f"t{n}" if n else " ", "label": "neutral"} for n in range(10)]},
            "non-empty text",
        ),
    ],
)
def test_malformed_case_files_are_refused(tmp_path, cases, message):
    path = tmp_path / "cases.yml"
    path.write_text(yaml.safe_dump(cases))
    with pytest.raises(ValueError, match=message):
        _behaviour().load_cases(path)


@pytest.mark.integration
def test_the_benchmark_tabulates_accuracy_per_category_for_each_model(trained_model, tmp_path):
    uri = f"models:/sentiment/{trained_model.version}"
    output = tmp_path / "behaviour.md"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model",
            f"first={uri}",
            "--model",
            "again=models:/sentiment@champion",
            "--output",
            str(output),
            "--failures",
        ],
        cwd=tmp_path,
        env=trained_model.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = output.read_text()
    header, command, table = written.split("\n\n", 2)
    assert header == "# Behavioural suite: accuracy per category"
    assert command.startswith(f"Command: `python benchmarks/behaviour.py --model first={uri}")
    assert table in result.stdout  # the file holds the table it printed
    rows = {
        match["category"]: (int(match["cases"]), float(match["first"]), float(match["again"]))
        for match in re.finditer(
            r"^\| (?P<category>\w+) \| (?P<cases>\d+) \| (?P<first>[\d.]+) \| (?P<again>[\d.]+) \|$",
            table,
            flags=re.MULTILINE,
        )
    }
    assert list(rows) == [*CATEGORIES, "all"]
    # The champion is that version: both columns agree, category by category.
    assert all(first == again for _, first, again in rows.values())
    cases = sum(count for name, (count, _, _) in rows.items() if name != "all")
    assert rows["all"][0] == cases
    # Every miss is listed once per model under --failures; the table's accuracies add up to it.
    misses = result.stdout.split("first misses:")[1].split("again misses:")[0]
    missed = len([line for line in misses.splitlines() if line.startswith("  [")])
    right = sum(round(count * first) for name, (count, first, _) in rows.items() if name != "all")
    assert right + missed == cases


@pytest.mark.unit
def test_a_model_argument_without_a_name_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", "models:/sentiment/1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "write NAME=URI" in result.stderr
