"""The results table of the README and the docs, generated from ``benchmarks/results/quality.json``
and the ``quality.json`` of every ``benchmarks/results/pretrained*/`` folder.

One row per data source and run: the champion (the candidate ranked first on the validation
split), its test metrics and the wall time of the whole run, with the command that measured
them; each source's newest run with the pretrained candidates (conf/pretrained; by its
``finished_at``, since runs that differ in their options keep folders of their own) follows its
other run. The table is written between ``<!-- results:start -->`` and ``<!-- results:end -->`` in
README.md and in every page under docs/ that has those markers, so no number in them is typed
by hand.

    python scripts/results_table.py            # print the table
    python scripts/results_table.py --write    # rewrite it in every file with the markers
    python scripts/results_table.py --check    # exit 1 if a file's table is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
START = "<!-- results:start -->"
END = "<!-- results:end -->"
HEADER = (
    "| source | champion | test accuracy | test macro-F1 | test macro-recall | wall time | command |\n"
    "|---|---|---:|---:|---:|---:|---|"
)


def wall_time(seconds: float) -> str:
    """``289.1`` -> ``4 min 49 s``: the whole run, to the second."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def newest_runs(paths: list[Path]) -> dict:
    """Each source's newest run (the greatest ``finished_at``, "YYYY-MM-DD HH:MM UTC") among
    the ``quality.json`` files ``paths``."""
    newest: dict = {}
    for path in paths:
        for source, result in json.loads(path.read_text()).items():
            if source not in newest or result["finished_at"] > newest[source]["finished_at"]:
                newest[source] = result
    return newest


def load_results(results_dir: Path = RESULTS_DIR) -> tuple[dict, dict]:
    """The results of the benchmark runs without and with the pretrained candidates."""
    pretrained = newest_runs(sorted(results_dir.glob("pretrained*/quality.json")))
    return json.loads((results_dir / "quality.json").read_text()), pretrained


def results_table(results: dict, pretrained: dict | None = None) -> str:
    """The markdown table of ``quality.json``'s results, one row per source, by source name,
    each followed by ``pretrained``'s run of that source (with conf/pretrained's candidates),
    as ``<source> + pretrained``."""
    rows = [HEADER]
    runs = [(source, results[source]) for source in sorted(results)] + [
        (f"{source} + pretrained", (pretrained or {})[source])
        for source in sorted(pretrained or {})
    ]
    for label, result in runs:
        champion = min(result["comparison"], key=lambda row: row["rank"])["model"]
        test = result["test_metrics"]
        rows.append(
            f"| {label} | {champion} | {test['accuracy']:.3f} | {test['macro_f1']:.3f} "
            f"| {test['macro_recall']:.3f} | {wall_time(result['wall_time_s'])} "
            f"| `{result['command']}` |"
        )
    return "\n".join(rows)


def with_table(text: str, table: str, path: Path) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"{path}: expected one {START} followed by one {END}")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def marked_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """README.md and every docs page that carries the start marker."""
    pages = sorted(page for page in (root / "docs").rglob("*.md") if START in page.read_text())
    return [root / "README.md", *pages]


def stale_files(table: str, root: Path = PROJECT_ROOT) -> list[Path]:
    """The files whose table differs from ``table``."""
    return [
        path
        for path in marked_files(root)
        if with_table(path.read_text(), table, path) != path.read_text()
    ]


def main(argv: list[str] | None = None) -> int:
    """Print, write or check the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--write", action="store_true", help="rewrite the table in every marked file"
    )
    action.add_argument("--check", action="store_true", help="exit 1 if a marked file is stale")
    args = parser.parse_args(argv)

    table = results_table(*load_results())
    if args.write:
        for path in stale_files(table):
            path.write_text(with_table(path.read_text(), table, path))
            print(f"rewrote the results table in {path.relative_to(PROJECT_ROOT)}")  # noqa: T201
    elif args.check:
        stale = stale_files(table)
        for path in stale:
            print(  # noqa: T201
                f"{path.relative_to(PROJECT_ROOT)}: results table is stale; "
                "run `python scripts/results_table.py --write`"
            )
        return 1 if stale else 0
    else:
        print(table)  # noqa: T201 - the table is this script's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
