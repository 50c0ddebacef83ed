#!/usr/bin/env bash
# Durable writes side by side: `redis-benchmark -t set -P 16 -c 50` against redis-server with
# `appendonly yes` (appendfsync always, then everysec) and `kvflow serve --data-dir` (--fsync
# always, then interval:10), alternated for RUNS rounds in one run of this script. Every
# server's data lives under one temporary directory on the same disk.
# Usage: scripts/serve_fsync_bench.sh [path/to/kvflow]     (N=200000 RUNS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
KVFLOW=${1:-target/release/kvflow}
N=${N:-200000}
RUNS=${RUNS:-3}
work=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT

wait_port() {
  for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "nothing answers on port $1" >&2; exit 1
}
sets_per_second() {
  redis-benchmark -p "$1" -q -t set -n "$N" -c 50 -P 16 | tr '\r' '\n' \
    | grep 'requests per second' | sed -E 's/^SET: ([0-9.]+) requests per second.*/\1/'
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

redis_run() {
  rm -rf "$work/redis"; mkdir -p "$work/redis"
  redis-server --port 7410 --dir "$work/redis" --save "" --appendonly yes \
    --appendfsync "$1" --daemonize no >"$work/redis.log" 2>&1 &
  pid=$!; wait_port 7410; sets_per_second 7410; stop
}
kvflow_run() {
  rm -rf "$work/kv"
  "$KVFLOW" serve dataflows/serve/set_counts.toml --listen 127.0.0.1:7411 \
    --data-dir "$work/kv" --output "$work/out" --fsync "$1" 2>"$work/kvflow.log" &
  pid=$!; wait_port 7411; sets_per_second 7411; stop
}

printf '%-4s %14s %14s %14s %14s\n' run redis-always kvflow-always redis-everysec kvflow-int10
for run in $(seq "$RUNS"); do
  ra=$(redis_run always); ka=$(kvflow_run always)
  re=$(redis_run everysec); ki=$(kvflow_run interval:10)
  printf '%-4s %14s %14s %14s %14s\n' "$run" "$ra" "$ka" "$re" "$ki"
  echo "     ratio kvflow/redis: always $(echo "scale=2; $ka / $ra" | bc)," \
    "interval:10 vs everysec $(echo "scale=2; $ki / $re" | bc)"
done
