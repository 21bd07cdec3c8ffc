"""Soak benchmark: a bounded load on one worker, then a mixed load with malformed requests.

Starts ``sentiment-mlops serve`` (one worker, the default bounds) on loopback and:

1. warms it up (500 requests), then reads its resident memory (RSS);
2. sends 10,000 ``POST /predict`` at concurrency 64 (``hey``);
3. sends a mixed run at once, 10,000 requests in all: single texts (70 %), batches of 20
   texts (10 %), explained texts (15 %) and malformed bodies (5 %, which must get 400);
4. reads the RSS again.

It prints one table: per run, the status codes, connection errors, p50 / p99 latency and
requests/s; then the RSS after warm-up and after the soak. The targets: zero 5xx, zero
connection errors, RSS after the soak within 10 % of after warm-up.

Prerequisites: a trained and registered model (``make run``) and ``hey`` (``apt-get install
hey``). Run from the project root (``MLFLOW_TRACKING_URI`` unset: the project's ``mlflow.db``):

    .venv/bin/python benchmarks/soak.py [--model-uri models:/sentiment@champion]
"""

# ruff: noqa: T201 - a benchmark's output is the table it prints

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # tests/support is not installed
from tests.support.servers import free_port, start_server  # noqa: E402

API_KEY = "soak-key"
TEXT = "@united the flight was delayed two hours and nobody told us anything, thanks a lot"
BATCH = [
    "@united thanks for the quick rebooking!",
    "@AmericanAir lost my bag again",
    "@SouthwestAir what time does boarding start?",
    "@JetBlue great crew, lovely flight",
] * 5
# (name, share of the mixed run, concurrency, path, body, the status it must get)
MIXED = [
    ("single", 0.70, 40, "/predict", json.dumps({"text": TEXT}), "200"),
    ("batch of 20", 0.10, 6, "/predict/batch", json.dumps({"texts": BATCH}), "200"),
    ("explained", 0.15, 12, "/predict?explain=true", json.dumps({"text": TEXT}), "200"),
    ("malformed", 0.05, 6, "/predict", '{"text": "unfinished', "400"),
]


def hey(url: str, body: str, requests: int, concurrency: int) -> dict:
    """``hey`` POSTing ``body``; its status codes, errors, p50 / p99 (ms) and requests/s."""
    result = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST"]
        + ["-T", "application/json", "-H", f"X-API-Key: {API_KEY}", "-d", body, url],
        capture_output=True,
        text=True,
        check=True,
    )
    report = result.stdout
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", report))
    # hey lists failed requests (refused, reset, timed out) under "Error distribution".
    _, _, failures = report.partition("Error distribution:")
    errors = sum(int(count) for count in re.findall(r"\[(\d+)\]", failures))
    percentile = {
        key: float(value) * 1000 for key, value in re.findall(r"(\d+)%+ in ([\d.]+) secs", report)
    }
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    return {
        "statuses": statuses,
        "errors": errors,
        "p50": percentile.get("50", float("nan")),
        "p99": percentile.get("99", float("nan")),
        "rps": rate,
    }


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-uri", default="models:/sentiment@champion")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    arguments = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("This benchmark needs `hey` (Debian: apt-get install hey).")
    # The server runs in a scratch directory: a relative SQLite URI would be a new, empty store.
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SENTIMENT_MODEL_URI": arguments.model_uri,
        "SENTIMENT_API_KEY": API_KEY,
        "SENTIMENT_MODEL_POLL_S": "0",
    }
    command = [sys.executable, "-m", "sentiment_mlops", "serve", "--port", str(port)]
    rows: dict[str, dict] = {}
    with start_server(
        command, f"{url}/ready", timeout=180, interval=0.25, cwd=tempfile.mkdtemp(), env=env
    ) as server:
        hey(f"{url}/predict", json.dumps({"text": TEXT}), 500, 8)
        for _, _, _, path, body, _ in MIXED[1:3]:  # first calls of every route
            hey(f"{url}{path}", body, 50, 2)
        warm = rss_mib(server.process.pid)
        rows[f"{arguments.requests:,} x /predict, c={arguments.concurrency}"] = hey(
            f"{url}/predict", json.dumps({"text": TEXT}), arguments.requests, arguments.concurrency
        )
        with ThreadPoolExecutor(len(MIXED)) as pool:
            runs = {
                name: pool.submit(
                    hey, f"{url}{path}", body, int(arguments.requests * share), concurrency
                )
                for name, share, concurrency, path, body, _ in MIXED
            }
            for name, run in runs.items():
                rows[f"mixed: {name}"] = run.result()
        soaked = rss_mib(server.process.pid)

    print(
        f"\n| {'run':<28} | {'statuses':<22} | {'errors':>6} | {'p50 ms':>7} | "
        f"{'p99 ms':>7} | {'req/s':>7} |"
    )
    print(f"|{'-' * 30}|{'-' * 24}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for name, row in rows.items():
        statuses = " ".join(f"{code}: {count}" for code, count in sorted(row["statuses"].items()))
        print(
            f"| {name:<28} | {statuses:<22} | {row['errors']:>6} | {row['p50']:>7.1f} | "
            f"{row['p99']:>7.1f} | {row['rps']:>7.1f} |"
        )
    expected = {f"mixed: {name}": status for name, _, _, _, _, status in MIXED}
    wrong = {
        name: row["statuses"]
        for name, row in rows.items()
        if set(row["statuses"]) != {expected.get(name, "200")}
    }
    server_errors = sum(
        int(count)
        for row in rows.values()
        for code, count in row["statuses"].items()
        if code >= "500"
    )
    errors = sum(row["errors"] for row in rows.values())
    print(f"\n- 5xx answers: {server_errors}; connection errors: {errors}")
    print(f"- unexpected statuses: {wrong or 'none'}")
    print(
        f"- RSS after warm-up {warm:.0f} MiB, after the soak {soaked:.0f} MiB "
        f"({(soaked - warm) / warm:+.1%}; target within 10 %)"
    )


if __name__ == "__main__":
    main()
