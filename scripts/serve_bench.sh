#!/usr/bin/env bash
# Side by side: redis-benchmark against a real redis-server (persistence off) and against
# `kvflow serve` with --data-dir (default fsync) and one dataflow (a group-by count over sets).
# Usage: scripts/serve_bench.sh [path/to/kvflow] [extra serve args...]
set -euo pipefail
cd "$(dirname "$0")/.."
KVFLOW=${1:-target/release/kvflow}
shift || true
N=${N:-200000}
work=$(mktemp -d)
trap 'kill $redis_pid $kv_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

redis-server --port 7400 --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
"$KVFLOW" serve dataflows/serve/set_counts.toml --listen 127.0.0.1:7401 \
  --data-dir "$work/data" --output "$work/out" "$@" 2>"$work/kvflow.log" &
kv_pid=$!
for port in 7400 7401; do
  for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p $port ping >/dev/null || { echo "nothing answers on port $port" >&2; exit 1; }
done

bench() { redis-benchmark -p "$1" -q -t set,get -n "$N" -c 50 -P 16 | tr '\r' '\n' | grep 'requests per second' | sed -E 's/^ +//'; }
echo "redis-server:"; bench 7400 | tee "$work/redis.txt"
echo "kvflow serve:"; bench 7401 | tee "$work/kvflow.txt"
rps() { grep "^$1:" "$2" | sed -E 's/^[A-Z]+: ([0-9.]+) requests per second.*/\1/'; }
for op in SET GET; do
  r=$(rps $op "$work/redis.txt"); k=$(rps $op "$work/kvflow.txt")
  echo "$op ratio kvflow/redis: $(echo "scale=2; $k / $r" | bc)"
done
kill -TERM $kv_pid; wait $kv_pid 2>/dev/null || true
tail -n 3 "$work/kvflow.log"
