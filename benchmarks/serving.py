"""Serving benchmark: raw sklearn vs the service in-process vs HTTP vs `mlflow models serve`.

Everything runs on the same fitted model, loaded from the MLflow registry:

1. raw sklearn: the packaged estimator's ``predict_proba`` on one raw text;
2. in-process: the service's scoring of one text (:meth:`ServedModel.predict`, as rows);
3. HTTP ``POST /predict`` (uvicorn, one worker) under ``hey`` at concurrency 1 and 32;
4. ``mlflow models serve --env-manager local`` of the same model, ``POST /invocations``
   under the same load (fewer requests: it is ~100x slower);
5. a batch of 1,000 texts: ``POST /predict/batch`` against raw ``predict_proba`` on 1,000;
6. the batch pipeline (``kedro run --pipelines inference``, in-process session) on 100k texts
   against raw ``predict_proba`` on the same 100k texts.

Prerequisites: a trained and registered model (``make run``), the Debian package ``hey``
(``apt-get install hey``) and the tweets in ``$SENTIMENT_DATA_MIRROR``. Run from the project
root, with the same MLFLOW_TRACKING_URI as the training run:

    .venv/bin/python benchmarks/serving.py --alias champion

It prints one table (p50 / p99 latency in ms, requests/s) and the ratios the targets use.
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.mlflow_registry import REGISTERED_MODEL_NAME

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The server helpers live in the project's tests/support, which is not installed: run as a
# script, Python puts only benchmarks/ on the path. First on the path, so that no installed
# distribution's top-level ``tests`` package shadows the project's.
sys.path.insert(0, str(PROJECT_ROOT))
from tests.support.servers import free_port, start_server  # noqa: E402

SERVER_START_TIMEOUT_S = 180


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    values = np.asarray(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def time_calls(function, repeats: int) -> dict[str, float]:
    """p50 / p99 of ``repeats`` sequential calls, and calls per second."""
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    p50, p99 = percentiles_ms(durations)
    return {"p50_ms": p50, "p99_ms": p99, "rps": len(durations) / sum(durations)}


def hey(url: str, body: dict, requests: int, concurrency: int) -> dict[str, float]:
    """``hey`` POSTing ``body``; latencies from its per-request CSV, all answers must be 200."""
    result = subprocess.run(
        [
            "hey",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-d",
            json.dumps(body),
            "-o",
            "csv",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    statuses = {row["status-code"] for row in rows}
    sent = requests // concurrency * concurrency  # hey gives each worker n // c requests
    if statuses != {"200"} or len(rows) != sent:
        raise RuntimeError(f"hey got statuses {statuses} for {len(rows)}/{sent} requests")
    latencies = [float(row["response-time"]) for row in rows]
    wall = max(float(row["offset"]) + float(row["response-time"]) for row in rows)
    p50, p99 = percentiles_ms(latencies)
    return {"p50_ms": p50, "p99_ms": p99, "rps": sent / wall}


def batch_pipeline(texts: list[str], workdir: Path, alias: str) -> float:
    """Seconds for `kedro run --pipelines inference` (in-process session) on ``texts``."""
    instances, output = workdir / "instances.csv", workdir / "predictions.csv"
    pd.DataFrame({"text": texts}).to_csv(instances, index=False)
    bootstrap_project(PROJECT_ROOT)
    params = {
        "instances_path": str(instances),
        "predictions_path": str(output),
        "model_alias": alias,  # the same registered version as every other measurement
    }
    with KedroSession.create(project_path=PROJECT_ROOT, runtime_params=params) as session:
        started = time.perf_counter()
        session.run(pipeline_names=["inference"])
        elapsed = time.perf_counter() - started
    if len(pd.read_csv(output, usecols=["label"])) != len(texts):
        raise RuntimeError("the batch pipeline lost rows")
    return elapsed


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--alias", default="champion", help="registered version of `sentiment` to measure"
    )
    parser.add_argument("--requests", type=int, default=2048, help="per HTTP run of the service")
    parser.add_argument("--mlflow-requests", type=int, default=192, help="per mlflow serve run")
    parser.add_argument("--repeats", type=int, default=2000, help="in-process calls")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    arguments = parser.parse_args()
    arguments.model_uri = f"models:/{REGISTERED_MODEL_NAME}@{arguments.alias}"
    if shutil.which("hey") is None:
        sys.exit("This benchmark needs `hey` (Debian: apt-get install hey).")

    mirror = PROJECT_ROOT / os.environ.get("SENTIMENT_DATA_MIRROR", "../shared/data")
    tweets = pd.read_csv(mirror / "twitter_airline_sentiment" / "Tweets.csv")["text"].tolist()
    text = "@united the flight was delayed two hours and nobody told us anything, thanks a lot"

    served = ServedModel.load(arguments.model_uri)
    estimator = served.estimator
    one = np.array([text], dtype=object)
    rows: dict[str, dict[str, float]] = {}
    rows["raw sklearn predict_proba (1 text)"] = time_calls(
        lambda: estimator.predict_proba(one), arguments.repeats
    )
    rows["service predict, in-process (1 text)"] = time_calls(
        lambda: served.predict([text]).rows(), arguments.repeats
    )
    thousand = np.array(tweets[:1000], dtype=object)
    rows["raw sklearn predict_proba (1,000 texts)"] = time_calls(
        lambda: estimator.predict_proba(thousand), 10
    )

    env = {
        **os.environ,
        "SENTIMENT_MODEL_URI": arguments.model_uri,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    outside = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sentiment_mlops.api.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        f"{url}/ready",
        timeout=SERVER_START_TIMEOUT_S,
        interval=0.25,
        cwd=outside,
        env=env,
    ):
        for concurrency in (1, 32):
            rows[f"HTTP /predict, c={concurrency}"] = hey(
                f"{url}/predict", {"text": text}, arguments.requests, concurrency
            )
        with httpx.Client(timeout=60) as client:
            rows["HTTP /predict/batch (1,000 texts)"] = time_calls(
                lambda: client.post(
                    f"{url}/predict/batch", json={"texts": tweets[:1000]}
                ).raise_for_status(),
                10,
            )

    port = free_port()
    with start_server(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            arguments.model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        f"http://127.0.0.1:{port}/ping",
        timeout=SERVER_START_TIMEOUT_S,
        interval=0.25,
        cwd=outside,
        env=env,
    ):
        body = {"dataframe_split": {"columns": ["text"], "data": [[text]]}}
        for concurrency in (1, 32):
            rows[f"mlflow models serve /invocations, c={concurrency}"] = hey(
                f"http://127.0.0.1:{port}/invocations",
                body,
                arguments.mlflow_requests,
                concurrency,
            )

    many = (tweets * (arguments.batch_rows // len(tweets) + 1))[: arguments.batch_rows]
    started = time.perf_counter()
    estimator.predict_proba(np.array(many, dtype=object))
    raw_many = time.perf_counter() - started
    pipeline_many = batch_pipeline(many, outside, arguments.alias)
    n = f"{arguments.batch_rows:,}"
    rows[f"raw sklearn predict_proba ({n} texts)"] = {
        "p50_ms": raw_many * 1000,
        "p99_ms": float("nan"),
        "rps": arguments.batch_rows / raw_many,
    }
    rows[f"batch pipeline, kedro run --pipelines inference ({n} texts)"] = {
        "p50_ms": pipeline_many * 1000,
        "p99_ms": float("nan"),
        "rps": arguments.batch_rows / pipeline_many,
    }

    print(f"\nmodel {arguments.model_uri}; {served.card.classes}; one text = {text!r}\n")
    print(f"| {'measurement':<60} | {'p50 ms':>9} | {'p99 ms':>9} | {'req/s':>9} |")
    print(f"|{'-' * 62}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    for name, row in rows.items():
        p99 = "" if np.isnan(row["p99_ms"]) else f"{row['p99_ms']:.2f}"
        print(f"| {name:<60} | {row['p50_ms']:>9.2f} | {p99:>9} | {row['rps']:>9.1f} |")
    ratios = {
        "in-process / raw sklearn, 1 text (target <= 1.5)": rows[
            "service predict, in-process (1 text)"
        ]["p50_ms"]
        / rows["raw sklearn predict_proba (1 text)"]["p50_ms"],
        "mlflow serve / HTTP p50, c=1 (target >= 10)": rows[
            "mlflow models serve /invocations, c=1"
        ]["p50_ms"]
        / rows["HTTP /predict, c=1"]["p50_ms"],
        "mlflow serve / HTTP p50, c=32 (target >= 10)": rows[
            "mlflow models serve /invocations, c=32"
        ]["p50_ms"]
        / rows["HTTP /predict, c=32"]["p50_ms"],
        "HTTP batch 1,000 / raw sklearn 1,000 (target <= 2)": rows[
            "HTTP /predict/batch (1,000 texts)"
        ]["p50_ms"]
        / rows["raw sklearn predict_proba (1,000 texts)"]["p50_ms"],
        f"batch pipeline / raw sklearn, {n} (target <= 1.2)": pipeline_many / raw_many,
    }
    print()
    for name, value in ratios.items():
        print(f"- {name}: {value:.2f}")
    shutil.rmtree(outside, ignore_errors=True)


if __name__ == "__main__":
    main()
