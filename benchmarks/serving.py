"""Serving benchmark: raw sklearn vs the service in-process vs HTTP vs `mlflow models serve`.

Everything runs on the same fitted model, loaded from the MLflow registry:

1. raw sklearn: the packaged estimator's ``predict_proba`` on one raw text;
2. in-process: the service's scoring of one text (:meth:`ServedModel.predict`, as rows);
3. HTTP ``POST /predict`` (``sentiment-mlops serve``: uvicorn, one worker) under ``hey`` at
   concurrency 1 and 32, and at 32 with two workers (``--workers 2``);
4. ``mlflow models serve --env-manager local`` of the same model, ``POST /invocations``
   under the same load (fewer requests: it is ~100x slower);
5. a batch of 1,000 texts: ``POST /predict/batch`` against raw ``predict_proba`` on 1,000;
6. the batch pipeline (``kedro run --pipelines inference``, in-process session) on 100k texts
   against raw ``predict_proba`` on the same 100k texts;
7. ``--logging-rounds N`` (default 3): ``POST /predict`` at concurrency 1 and 32 with the
   prediction log on (every prediction, the default) and off (``SENTIMENT_PREDICTION_LOG_SAMPLE=0``),
   a fresh server per round and mode, the modes alternating; medians over the rounds. With
   ``--only-logging-overhead`` nothing else runs;
8. with ``--onnx-run RUN_ID`` (a training run whose selected model holds a fine-tuned
   transformer, such as ``kedro run --env pretrained`` with ``serving.runtime: eager``): one
   text through that transformer in PyTorch eager, ONNX Runtime float32 and ONNX Runtime int8,
   one thread each, against the ``--alias`` model's raw ``predict_proba``, in one process; then,
   on the project's test split, the accuracy, macro-F1, largest probability change and labels
   kept of the transformer and of the whole model on each runtime; with ``--only-onnx``
   nothing else runs;
9. with ``--swap-version N``: ``POST /predict`` at concurrency 8 for a while, steady, then again
   while the alias moves to version N and the service loads, checks and swaps it in
   (``POST /admin/reload``); p99 of the requests sent during the swap against the steady p99.
   The alias is moved back afterwards.

Prerequisites: a trained and registered model (``make run``), the Debian package ``hey``
(``apt-get install hey``) and the tweets in ``$SENTIMENT_DATA_MIRROR``. Run from the project
root, with the same MLFLOW_TRACKING_URI as the training run (unset: the project's
``mlflow.db``, as for ``kedro run``):

    .venv/bin/python benchmarks/serving.py --alias champion --swap-version 1

It prints one table (p50 / p99 latency in ms, requests/s) and the ratios the targets use.
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.model import ServedModel
from sentiment_mlops.mlflow_registry import REGISTERED_MODEL_NAME

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The server helpers live in the project's tests/support, which is not installed: run as a
# script, Python puts only benchmarks/ on the path. First on the path, so that no installed
# distribution's top-level ``tests`` package shadows the project's.
sys.path.insert(0, str(PROJECT_ROOT))
from tests.support.servers import ServerProcess, free_port, start_server  # noqa: E402

SERVER_START_TIMEOUT_S = 180
SWAP_CONCURRENCY = 8
SWAP_RUN_S = 12
API_KEY = "benchmark-key"  # the admin route needs one
WORKERS = 2


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


def hey_csv(url: str, body: dict, load: list[str], headers: dict[str, str]) -> list[dict]:
    """``hey`` POSTing ``body`` (``load``: its -n/-z and -c options); one row per request."""
    header_options = [
        option for name, value in headers.items() for option in ("-H", f"{name}: {value}")
    ]
    result = subprocess.run(
        ["hey", *load, *header_options, "-m", "POST", "-T", "application/json"]
        + ["-d", json.dumps(body), "-o", "csv", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    statuses = {row["status-code"] for row in rows}
    if statuses != {"200"}:
        raise RuntimeError(f"hey got statuses {statuses} for {len(rows)} requests")
    return rows


def latency_row(rows: list[dict]) -> dict[str, float]:
    """p50 / p99 and requests per second of ``hey`` rows."""
    latencies = [float(row["response-time"]) for row in rows]
    start = min(float(row["offset"]) for row in rows)
    wall = max(float(row["offset"]) + float(row["response-time"]) for row in rows) - start
    p50, p99 = percentiles_ms(latencies)
    return {"p50_ms": p50, "p99_ms": p99, "rps": len(rows) / wall}


def hey(
    url: str, body: dict, requests: int, concurrency: int, headers: dict[str, str]
) -> dict[str, float]:
    """``requests`` POSTs at ``concurrency``; every one must be answered 200."""
    rows = hey_csv(url, body, ["-n", str(requests), "-c", str(concurrency)], headers)
    sent = requests // concurrency * concurrency  # hey gives each worker n // c requests
    if len(rows) != sent:
        raise RuntimeError(f"hey got {len(rows)}/{sent} answers")
    return latency_row(rows)


def swap_rows(
    url: str, body: dict, headers: dict[str, str], *, alias: str, version: str
) -> dict[str, dict[str, float]]:
    """Steady p99 at c=8, then p99 of the requests sent while the service swaps versions
    (``url``: the service's root)."""
    load = ["-z", f"{SWAP_RUN_S}s", "-c", str(SWAP_CONCURRENCY)]
    predict = f"{url}/predict"
    rows = {
        f"HTTP /predict, c={SWAP_CONCURRENCY}, steady": latency_row(
            hey_csv(predict, body, load, headers)
        )
    }
    client = MlflowClient()
    before = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, alias).version
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        running = pool.submit(hey_csv, predict, body, load, headers)
        time.sleep(SWAP_RUN_S / 3)
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, alias, version)
        swap_start = time.monotonic() - started
        check = httpx.post(f"{url}/admin/reload", headers=headers, timeout=120).json()
        swap_end = time.monotonic() - started
        answered = running.result()
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, alias, before)
    httpx.post(f"{url}/admin/reload", headers=headers, timeout=120).raise_for_status()
    if check.get("outcome") != "loaded":
        raise RuntimeError(f"version {version} was not swapped in: {check}")
    during = [row for row in answered if swap_start <= float(row["offset"]) <= swap_end]
    window = f"{swap_end - swap_start:.1f} s, {len(during)} requests"
    rows[f"HTTP /predict, c={SWAP_CONCURRENCY}, during a swap ({window})"] = latency_row(during)
    rows[f"HTTP /predict, c={SWAP_CONCURRENCY}, whole run with the swap"] = latency_row(answered)
    return rows


def service(env: dict, workdir: Path, *options: str) -> tuple[str, ServerProcess]:
    """``sentiment-mlops serve`` on a free loopback port (its URL, and the server to stop),
    once ``/ready`` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(
        [sys.executable, "-m", "sentiment_mlops", "serve", "--port", str(port), *options],
        f"{url}/ready",
        timeout=SERVER_START_TIMEOUT_S,
        interval=0.25,
        cwd=workdir,
        env=env,
    )
    return url, server


def workers_row(env: dict, workdir: Path, body: dict, requests: int) -> dict[str, float]:
    """``POST /predict`` at c=32 on ``sentiment-mlops serve --workers 2``, once every worker
    has loaded the model."""
    url, server = service(env, workdir, "--workers", str(WORKERS))
    with server:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while "sentiment_model_ready 1.0" not in httpx.get(f"{url}/metrics").text:
            if time.monotonic() > deadline:
                raise RuntimeError("not every worker loaded the model")
            time.sleep(0.25)
        return hey(f"{url}/predict", body, requests, 32, {"X-API-Key": API_KEY})


def logging_overhead_rows(
    env: dict, workdir: Path, body: dict, requests: int, rounds: int
) -> dict[str, dict[str, float]]:
    """p50 / p99 / req/s of ``POST /predict`` at c=1 and c=32 with the prediction log on and
    off: medians over ``rounds`` fresh servers per mode, alternating which mode goes first."""
    runs: dict[str, list[dict[str, float]]] = {}
    for round_index in range(rounds):
        modes = ("on", "off") if round_index % 2 == 0 else ("off", "on")
        for mode in modes:
            mode_env = {
                **env,
                "SENTIMENT_PREDICTION_LOG_SAMPLE": "1" if mode == "on" else "0",
                "SENTIMENT_PREDICTION_LOG_DIR": str(workdir / f"log-{round_index}-{mode}"),
            }
            url, server = service(mode_env, workdir)
            with server:
                headers = {"X-API-Key": API_KEY}
                hey(f"{url}/predict", body, 256, 8, headers)  # warm up
                for concurrency in (1, 32):
                    runs.setdefault(f"HTTP /predict, c={concurrency}, log {mode}", []).append(
                        hey(f"{url}/predict", body, requests, concurrency, headers)
                    )
                metrics = httpx.get(f"{url}/metrics").text
            if mode == "on" and "sentiment_prediction_log_dropped_total 0.0" not in metrics:
                raise RuntimeError("the prediction log dropped records during the benchmark")
    return {
        f"{name} (median of {rounds})": {
            key: float(np.median([row[key] for row in rows])) for key in rows[0]
        }
        for name, rows in sorted(runs.items())
    }


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


def run_model(run_id: str) -> Any:
    """The selected model (``sentiment_model``) a training run logged, before calibration."""
    from mlflow.artifacts import download_artifacts  # noqa: PLC0415

    path = download_artifacts(run_id=run_id, artifact_path="model_artifacts/sentiment_model.pkl")
    with open(path, "rb") as file:  # noqa: PTH123 - the run's own artifact
        return pickle.load(file)  # noqa: S301 - a model this project trained


def fine_tuned_network(model: Any, run_id: str) -> Any:
    """The first fine-tuned transformer inside ``model``."""
    from sentiment_mlops.pipelines.calibration.nodes import estimator_parts  # noqa: PLC0415

    for part in estimator_parts(model):
        if type(part).__name__ == "TransformerFineTuneClassifier":
            return part
    sys.exit(f"Run {run_id} selected no fine-tuned transformer: nothing to export.")


def onnx_agreement_rows(run_id: str, test_split: pd.DataFrame) -> list[dict[str, Any]]:
    """Accuracy and macro-F1 on ``test_split`` of the run's transformer alone and of its whole
    model, eager and on each ONNX runtime, with the largest probability change and the share of
    labels unchanged."""
    from sklearn.metrics import accuracy_score, f1_score  # noqa: PLC0415

    from sentiment_mlops.networks import OnnxTextClassifier  # noqa: PLC0415
    from sentiment_mlops.networks.onnx_runtime import with_onnx_runtime  # noqa: PLC0415

    model = run_model(run_id)
    network = fine_tuned_network(model, run_id)
    network.num_threads = 2  # a batch of texts: both cores
    texts = test_split["text"].to_numpy(dtype=object)
    truth = test_split["label"].to_numpy(dtype=object)
    variants = {
        "transformer alone": (
            network,
            lambda quantize: OnnxTextClassifier(network, quantize=quantize).fit(),
        ),
        "whole model": (model, lambda quantize: with_onnx_runtime(model, quantize=quantize)),
    }
    rows = []
    for name, (eager, export) in variants.items():
        reference = eager.predict_proba(texts)
        for runtime, quantize in (
            ("PyTorch eager", None),
            ("ONNX float32", False),
            ("ONNX int8", True),
        ):
            probabilities = reference if quantize is None else export(quantize).predict_proba(texts)
            labels = eager.classes_[probabilities.argmax(axis=1)]
            rows.append(
                {
                    "model": name,
                    "runtime": runtime,
                    "accuracy": accuracy_score(truth, labels),
                    "macro_f1": f1_score(truth, labels, average="macro"),
                    "max_probability_change": float(np.abs(probabilities - reference).max()),
                    "labels_as_eager": float(
                        (probabilities.argmax(1) == reference.argmax(1)).mean()
                    ),
                }
            )
    return rows


def onnx_rows(run_id: str, baseline: Any, texts: list[str], repeats: int) -> dict[str, dict]:
    """One-text latency of the run's fine-tuned transformer on each runtime, and of
    ``baseline`` (the linear champion's estimator), cycling through ``texts``."""
    from sentiment_mlops.networks import OnnxTextClassifier  # noqa: PLC0415

    network = fine_tuned_network(run_model(run_id), run_id)
    network.num_threads = 1  # as ONNX Runtime below: one core per request
    runtimes = {
        "PyTorch eager": network,
        "ONNX Runtime float32": OnnxTextClassifier(network, quantize=False).fit(),
        "ONNX Runtime int8": OnnxTextClassifier(network, quantize=True).fit(),
        "linear champion (raw predict_proba)": baseline,
    }
    rows = {}
    for name, estimator in runtimes.items():
        cycle = iter(np.array(texts * (repeats // len(texts) + 1), dtype=object)[:, None])
        estimator.predict_proba(next(cycle))  # warm-up: first-call allocations
        rows[f"{name} (1 text)"] = time_calls(
            lambda e=estimator, c=cycle: e.predict_proba(next(c)), repeats
        )
    return rows


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--alias", default="champion", help="registered version of `sentiment` to measure"
    )
    parser.add_argument("--requests", type=int, default=2048, help="per HTTP run of the service")
    parser.add_argument("--mlflow-requests", type=int, default=192, help="per mlflow serve run")
    parser.add_argument("--repeats", type=int, default=2000, help="in-process calls")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument(
        "--swap-version", help="another registered version to swap in under load (and back)"
    )
    parser.add_argument(
        "--logging-rounds", type=int, default=3, help="rounds of the log on / off comparison"
    )
    parser.add_argument(
        "--only-logging-overhead",
        action="store_true",
        help="run only the prediction log on / off comparison",
    )
    parser.add_argument(
        "--onnx-run", help="run id whose selected model holds a fine-tuned transformer"
    )
    parser.add_argument("--only-onnx", action="store_true", help="run only the ONNX comparison")
    arguments = parser.parse_args()
    if arguments.only_onnx and not arguments.onnx_run:
        parser.error("--only-onnx needs --onnx-run RUN_ID")
    arguments.model_uri = f"models:/{REGISTERED_MODEL_NAME}@{arguments.alias}"
    # The servers run in a scratch directory: a relative SQLite URI would be a new, empty store.
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}")
    if shutil.which("hey") is None and not arguments.only_onnx:
        sys.exit("This benchmark needs `hey` (Debian: apt-get install hey).")

    mirror = PROJECT_ROOT / os.environ.get("SENTIMENT_DATA_MIRROR", "../shared/data")
    tweets = pd.read_csv(mirror / "twitter_airline_sentiment" / "Tweets.csv")["text"].tolist()
    text = "@united the flight was delayed two hours and nobody told us anything, thanks a lot"

    env = {
        **os.environ,
        "SENTIMENT_MODEL_URI": arguments.model_uri,
        "SENTIMENT_API_KEY": API_KEY,
        "SENTIMENT_MODEL_POLL_S": "0",  # the swap run moves the alias and asks for a reload
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    outside = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    if arguments.only_logging_overhead:
        logging_rows = logging_overhead_rows(
            env, outside, {"text": text}, arguments.requests, arguments.logging_rounds
        )
        print_table(logging_rows)
        print_ratios(logging_ratios(logging_rows))
        shutil.rmtree(outside, ignore_errors=True)
        return

    served = ServedModel.load(arguments.model_uri)
    estimator = served.estimator
    if arguments.onnx_run:
        onnx = onnx_rows(arguments.onnx_run, estimator, tweets[:500], min(arguments.repeats, 500))
        print_table(onnx)
        eager, int8 = onnx["PyTorch eager (1 text)"], onnx["ONNX Runtime int8 (1 text)"]
        linear = onnx["linear champion (raw predict_proba) (1 text)"]
        print(f"int8 / eager p50: {int8['p50_ms'] / eager['p50_ms']:.2f}")
        print(f"int8 / linear champion p50: {int8['p50_ms'] / linear['p50_ms']:.2f} (target <= 3)")
        test_split = PROJECT_ROOT / "data" / "05_model_input" / "test_split.parquet"
        if test_split.is_file():  # the split the run was tested on, if this project made it
            rows = onnx_agreement_rows(arguments.onnx_run, pd.read_parquet(test_split))
            print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g"))
        if arguments.only_onnx:
            return
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

    url, server = service(env, outside)
    with server:
        headers = {"X-API-Key": API_KEY}
        for concurrency in (1, 32):
            rows[f"HTTP /predict, c={concurrency}"] = hey(
                f"{url}/predict", {"text": text}, arguments.requests, concurrency, headers
            )
        with httpx.Client(timeout=60, headers=headers) as client:
            rows["HTTP /predict/batch (1,000 texts)"] = time_calls(
                lambda: client.post(
                    f"{url}/predict/batch", json={"texts": tweets[:1000]}
                ).raise_for_status(),
                10,
            )
        if arguments.swap_version:
            rows |= swap_rows(
                url,
                {"text": text},
                headers,
                alias=arguments.alias,
                version=arguments.swap_version,
            )

    if arguments.logging_rounds:
        rows |= logging_overhead_rows(
            env, outside, {"text": text}, arguments.requests, arguments.logging_rounds
        )
    rows[f"HTTP /predict, c=32, {WORKERS} workers"] = workers_row(
        env, outside, {"text": text}, arguments.requests
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
                {},
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
    print_table(rows)
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
    if arguments.logging_rounds:
        ratios |= logging_ratios(rows)
    if arguments.swap_version:
        steady = rows[f"HTTP /predict, c={SWAP_CONCURRENCY}, steady"]["p99_ms"]
        during = next(row for name, row in rows.items() if "during a swap" in name)["p99_ms"]
        ratios[f"p99 during a swap / steady p99, c={SWAP_CONCURRENCY} (target <= 2)"] = (
            during / steady
        )
    print_ratios(ratios)
    shutil.rmtree(outside, ignore_errors=True)


def print_table(rows: dict[str, dict[str, float]]) -> None:
    print(f"| {'measurement':<60} | {'p50 ms':>9} | {'p99 ms':>9} | {'req/s':>9} |")
    print(f"|{'-' * 62}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    for name, row in rows.items():
        p99 = "" if np.isnan(row["p99_ms"]) else f"{row['p99_ms']:.2f}"
        print(f"| {name:<60} | {row['p50_ms']:>9.2f} | {p99:>9} | {row['rps']:>9.1f} |")


def logging_ratios(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    """p50 with the prediction log on / off, per concurrency (target: within 5 %)."""
    p50 = {name.split(" (median")[0]: row["p50_ms"] for name, row in rows.items()}
    return {
        f"p50 log on / off, c={concurrency} (target <= 1.05)": (
            p50[f"HTTP /predict, c={concurrency}, log on"]
            / p50[f"HTTP /predict, c={concurrency}, log off"]
        )
        for concurrency in (1, 32)
        if f"HTTP /predict, c={concurrency}, log on" in p50
    }


def print_ratios(ratios: dict[str, float]) -> None:
    print()
    for name, value in ratios.items():
        print(f"- {name}: {value:.2f}")


if __name__ == "__main__":
    main()
