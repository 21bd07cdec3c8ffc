"""Growth curve of batch scoring: the pandas `inference` pipeline against `inference_dask`.

Scores synthetic texts (each the first half of one airline tweet and the second half of
another, drawn at random from ``$SENTIMENT_DATA_MIRROR``; written to a scratch folder at
benchmark time, nothing committed) with the registry's champion:

- ``kedro run --pipelines inference`` (one process, chunks of 20,000 rows) at each size;
- ``kedro run --pipelines inference_dask`` on a LocalCluster of 1 and of 2 workers at each size,
  and of 2 workers only at ``--dask-only-sizes`` (10M by default: about half an hour on 2 cores).

Every run is a fresh ``kedro`` process on the same CSV, so the times include what a user waits
for (Kedro's start, loading the model, the cluster's start): a run of 1,000 texts measures
that fixed cost. Peak memory is the largest resident set of each process while it ran (sampled
every 0.2 s): the Kedro process (which also holds the Dask scheduler) and the busiest worker.

    .venv/bin/python benchmarks/scale.py                              # 100k, 1M; 10M on Dask
    .venv/bin/python benchmarks/scale.py --sizes 100000 --dask-only-sizes   # a quick look

Prerequisites: a registered champion (``make run``) in the store ``MLFLOW_TRACKING_URI`` names
(unset: the project's ``mlflow.db``). The table is also written to
``benchmarks/results/scale.md``.
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "scale.md"
FIXED_COST_ROWS = 1_000
WRITE_ROWS = 500_000  # rows synthesised and appended to the CSV at a time
SAMPLE_S = 0.2


@dataclass(frozen=True)
class Measurement:
    engine: str
    rows: int
    wall_s: float
    kedro_peak_mib: float
    worker_peak_mib: float | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s


def tweet_halves(mirror: Path) -> tuple[list[str], list[str]]:
    """Each airline tweet cut at its middle word: the first halves and the second halves."""
    tweets = pd.read_csv(mirror / "twitter_airline_sentiment" / "Tweets.csv")["text"]
    heads, tails = [], []
    for tweet in tweets:
        # One line per text: a CSV is split into Dask partitions at line ends.
        words = " ".join(str(tweet).split()).split(" ")
        middle = len(words) // 2
        heads.append(" ".join(words[:middle]))
        tails.append(" ".join(words[middle:]))
    return heads, tails


def write_texts(path: Path, rows: int, halves: tuple[list[str], list[str]]) -> None:
    """A CSV of ``rows`` synthetic texts (``id``, ``text``), written in slices."""
    heads, tails = (np.asarray(part, dtype=object) for part in halves)
    generator = np.random.default_rng(rows)
    for start in range(0, rows, WRITE_ROWS):
        count = min(WRITE_ROWS, rows - start)
        texts = (
            heads[generator.integers(len(heads), size=count)]
            + " "
            + tails[generator.integers(len(tails), size=count)]
        )
        pd.DataFrame({"id": np.arange(start, start + count), "text": texts}).to_csv(
            path, mode="a" if start else "w", header=start == 0, index=False
        )


def peak_memory(process: psutil.Process, stop: threading.Event) -> dict[int, tuple[str, int]]:
    """Until ``stop``: the largest RSS of ``process`` and of each of its descendants."""
    peaks: dict[int, tuple[str, int]] = {}
    while not stop.is_set():
        try:
            members = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in members:
            try:
                rss = member.memory_info().rss
                role = "kedro" if member.pid == process.pid else " ".join(member.cmdline())
            except psutil.Error:
                continue
            previous = peaks.get(member.pid, (role, 0))[1]
            peaks[member.pid] = (role, max(previous, rss))
        stop.wait(SAMPLE_S)
    return peaks


def run_scoring(pipeline: str, params: dict[str, object], env: dict[str, str]) -> tuple:
    """Wall time and peak memory (Kedro process, busiest worker) of one ``kedro run``."""
    command = [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines", pipeline]
    command += ["--params", ",".join(f"{key}={value}" for key, value in params.items())]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    peaks: dict[int, tuple[str, int]] = {}
    sampler = threading.Thread(
        target=lambda: peaks.update(peak_memory(psutil.Process(process.pid), stop))
    )
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{stderr[-4000:]}")
    mib = 1024 * 1024
    kedro = max(rss for role, rss in peaks.values() if role == "kedro") / mib
    # Dask's worker processes are spawned by multiprocessing; its resource tracker is not one.
    workers = [
        rss
        for role, rss in peaks.values()
        if "multiprocessing" in role and "resource_tracker" not in role
    ]
    return elapsed, kedro, (max(workers) / mib if workers else None)


def measure(engine: str, rows: int, instances: Path, scratch: Path, env: dict) -> Measurement:
    if engine == "pandas":
        params = {"instances_path": instances, "predictions_path": scratch / "predictions.csv"}
        pipeline = "inference"
    else:
        workers = int(engine.split()[1])
        params = {
            "instances_path": instances,
            "dask_predictions_path": scratch / "scored",
            "dask_rejects_path": scratch / "rejects",
            "dask_scoring.n_workers": workers,
            # The texts are one line each, so the CSV may be split into blocks (4 MB, ~36,000
            # texts); by default Dask reads a CSV file as one partition.
            "instances_blocksize": "4MB",
        }
        pipeline = "inference_dask"
    wall, kedro, worker = run_scoring(pipeline, params, env)
    measured = Measurement(engine, rows, wall, kedro, worker)
    print(
        f"  {engine:<14} {rows:>10,} rows  {wall:8.1f} s  {measured.rows_per_s:>9,.0f} rows/s  "
        f"kedro {kedro:,.0f} MiB  worker {f'{worker:,.0f} MiB' if worker else '-'}",
        flush=True,
    )
    return measured


def table(measurements: list[Measurement], fixed: dict[str, float]) -> str:
    lines = [
        "| engine | texts | wall s | rows/s | peak MiB, Kedro process | peak MiB, busiest worker |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in measurements:
        worker = f"{m.worker_peak_mib:,.0f}" if m.worker_peak_mib is not None else "–"
        lines.append(
            f"| {m.engine} | {m.rows:,} | {m.wall_s:,.1f} | {m.rows_per_s:,.0f} | "
            f"{m.kedro_peak_mib:,.0f} | {worker} |"
        )
    lines.append("")
    lines.append(
        "Fixed cost (a run of 1,000 texts): "
        + ", ".join(f"{engine} {seconds:.1f} s" for engine, seconds in fixed.items())
        + "."
    )
    return "\n".join(lines)


def ratios(measurements: list[Measurement]) -> list[str]:
    """The targets: linear growth to 10M, and Dask on 2 workers against pandas at 1M."""
    found = {(m.engine, m.rows): m for m in measurements}
    notes = []
    if ("dask 2 workers", 10_000_000) in found and ("dask 2 workers", 1_000_000) in found:
        growth = (
            found["dask 2 workers", 10_000_000].wall_s / found["dask 2 workers", 1_000_000].wall_s
        )
        notes.append(
            f"- Dask 2 workers, 10M / 1M wall time: {growth:.2f} (linear: 10; target <= 12)"
        )
    if ("dask 2 workers", 1_000_000) in found and ("pandas", 1_000_000) in found:
        speedup = (
            found["dask 2 workers", 1_000_000].rows_per_s / found["pandas", 1_000_000].rows_per_s
        )
        notes.append(f"- Dask 2 workers / pandas rows/s at 1M: {speedup:.2f} (target >= 1.6)")
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dask-only-sizes", type=int, nargs="*", default=[10_000_000])
    parser.add_argument("--scratch", type=Path, help="where the texts go (default: a temp dir)")
    arguments = parser.parse_args()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": os.environ.get(
            "MLFLOW_TRACKING_URI", f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
        ),
        "KEDRO_DISABLE_TELEMETRY": "true",
    }
    mirror = PROJECT_ROOT / os.environ.get("SENTIMENT_DATA_MIRROR", "../shared/data")
    halves = tweet_halves(mirror)
    scratch = arguments.scratch or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    engines = ["pandas", "dask 1 worker", "dask 2 workers"]

    print(f"Fixed cost ({FIXED_COST_ROWS:,} texts):", flush=True)
    small = scratch / "texts-fixed.csv"
    write_texts(small, FIXED_COST_ROWS, halves)
    fixed = {
        engine: measure(engine, FIXED_COST_ROWS, small, scratch, env).wall_s for engine in engines
    }

    measurements = []
    plan = [(rows, engines) for rows in arguments.sizes]
    plan += [(rows, ["dask 2 workers"]) for rows in arguments.dask_only_sizes]
    for rows, run_engines in plan:
        instances = scratch / f"texts-{rows}.csv"
        started = time.perf_counter()
        write_texts(instances, rows, halves)
        print(
            f"{rows:,} texts ({instances.stat().st_size / 1e6:,.0f} MB CSV, written in "
            f"{time.perf_counter() - started:.0f} s):",
            flush=True,
        )
        measurements += [measure(engine, rows, instances, scratch, env) for engine in run_engines]
        instances.unlink()

    report = [table(measurements, fixed), "", *ratios(measurements)]
    print("\n" + "\n".join(report))
    cores = os.cpu_count()
    RESULTS.write_text(
        "# Batch scoring growth curve\n\n"
        f"`python benchmarks/scale.py` on {cores} cores, "
        f"{time.strftime('%Y-%m-%d')}; airline champion from the registry.\n\n"
        + "\n".join(report)
        + "\n"
    )


if __name__ == "__main__":
    main()
