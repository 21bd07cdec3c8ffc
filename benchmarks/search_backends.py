"""Model search wall time: the local backend against Dask, on the project's own data.

Runs ``kedro run --pipelines training`` (the configured candidates and grids on the training
split that an earlier ``kedro run`` left in ``data/05_model_input``) once per backend, in a
throw-away MLflow store, and prints each run's wall time and, per candidate, the chosen
parameters and CV macro-F1, which must be the same on both backends:

    .venv/bin/python benchmarks/search_backends.py              # local, then dask (LocalCluster)
    .venv/bin/python benchmarks/search_backends.py --scheduler tcp://10.0.0.5:8786

The table is also written to ``benchmarks/results/search_backends.md``. A script, not a test:
the default airline grid takes minutes per backend.
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMPARISON = PROJECT_ROOT / "data" / "08_reporting" / "model_comparison.csv"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "search_backends.md"


def run_training(
    options: list[str], params: list[str], env: dict[str, str]
) -> tuple[float, pd.DataFrame]:
    """Wall time of ``kedro run --pipelines training`` and the comparison table it wrote."""
    command = [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines", "training"]
    command += options
    for param in params:
        command += ["--params", param]
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return elapsed, pd.read_csv(COMPARISON)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheduler", help="a running Dask scheduler (default: a LocalCluster)")
    parser.add_argument("--env", help="Kedro environment (default: local)")
    arguments = parser.parse_args()
    if not (PROJECT_ROOT / "data" / "05_model_input" / "train_split.parquet").is_file():
        sys.exit("No training split yet: run `kedro run --pipelines data_processing` first.")
    store = Path(tempfile.mkdtemp(prefix="search-bench-")) / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    common = [f"--env={arguments.env}"] if arguments.env else []
    dask = ["search.backend=dask"]
    if arguments.scheduler:
        dask.append(f"search.scheduler={arguments.scheduler}")
    runs = {}
    for backend, params in (("local", []), ("dask", dask)):
        print(f"kedro run --pipelines training ({backend}) ...", file=sys.stderr, flush=True)
        runs[backend] = run_training(common, params, env)
    columns = ["model", "best_params", "cv_f1_macro_mean"]
    local, dask_table = (runs[name][1][columns].set_index("model") for name in ("local", "dask"))
    same = local.index.equals(dask_table.index) and (local == dask_table).all().all()
    lines = [
        "| backend | wall time (s) | speed-up |",
        "|---|---:|---:|",
        f"| local (search.n_jobs) | {runs['local'][0]:.1f} | 1.00 |",
        f"| dask ({arguments.scheduler or 'LocalCluster, one worker per core'}) "
        f"| {runs['dask'][0]:.1f} | {runs['local'][0] / runs['dask'][0]:.2f} |",
        "",
        f"Same chosen parameters and CV macro-F1 for every candidate: {'yes' if same else 'NO'}.",
        "",
        "| candidate | best parameters | CV macro-F1 |",
        "|---|---|---:|",
        *(
            f"| {name} | `{row.best_params}` | {row.cv_f1_macro_mean:.4f} |"
            for name, row in local.iterrows()
        ),
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.write_text(
        "# Model search: local backend vs Dask\n\n"
        "`python benchmarks/search_backends.py` (the training pipeline on the project's "
        f"training split, {os.cpu_count()} cores).\n\n{table}\n"
    )
    if not same:
        sys.exit("The two backends chose or scored differently.")


if __name__ == "__main__":
    main()
