#!/usr/bin/env bash
# Stop the cluster started by start_rgw.sh DIR: signal each daemon by its pid file, wait for it.
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
run_dir="$1/run"
pids=()
for pid_file in "$run_dir"/client.rgw.a.pid "$run_dir"/osd.*.pid "$run_dir"/mon.a.pid; do
  [ -f "$pid_file" ] || continue
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null && pids+=("$pid")
done
for pid in "${pids[@]}"; do
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || continue 2
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
done
exit 0
