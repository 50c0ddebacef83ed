#!/usr/bin/env bash
# Regenerates the measured tables of BENCHMARKS.md: the engine benches (kvflow beside
# hand-written differential programs and HashMap loops) and `kvflow bench` over the Nexmark
# queries. The prose of BENCHMARKS.md stays; only the parts between the generated markers
# are replaced.
#
# Usage: scripts/benchmarks.sh [EVENTS] [REPEAT] [WORKERS]
#   EVENTS   Nexmark events per run (default 200000)
#   REPEAT   runs per worker count (default 3)
#   WORKERS  worker counts (default 1,2)
# Needs: cargo, python3. Results: bench-results/nexmark/<query>/, target/criterion/.
set -euo pipefail

EVENTS=${1:-200000}
REPEAT=${2:-3}
WORKERS=${3:-1,2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/bench-results
QUERIES="q0 q1 q2 q3 q4 q5 q5_join q7 q8 q9 q11"

cargo build --release --quiet
KVFLOW=$TARGET/release/kvflow

echo "== engine benches (criterion, short measurement)" >&2
cargo bench --quiet --bench engine -- --warm-up-time 1 --measurement-time 3 >&2

echo "== nexmark: $EVENTS events, -w $WORKERS, $REPEAT runs each" >&2
for q in $QUERIES; do
    echo "-- $q" >&2
    "$KVFLOW" bench "dataflows/nexmark/$q.toml" --workload nexmark --events "$EVENTS" \
        -w "$WORKERS" --repeat "$REPEAT" --out "$OUT/nexmark/$q" >&2
done

MACHINE=$(
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible" \
        "($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread per core)"
    echo "- Memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r)"
    echo "- $(rustc --version); kvflow commit $(git rev-parse --short HEAD)"
    echo "- Measured $(date -u +%Y-%m-%d) with \`scripts/benchmarks.sh $EVENTS $REPEAT $WORKERS\`"
)

python3 - "$TARGET/criterion" "$OUT/nexmark" "$QUERIES" "$MACHINE" <<'PY'
import json, os, re, sys

criterion, nexmark, queries, machine = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
ENGINE_EVENTS = 200_000  # EVENTS in benches/engine.rs

def rate(impl, case):
    path = os.path.join(criterion, "engine", impl, case, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        ns = json.load(f)["median"]["point_estimate"]
    return ENGINE_EVENTS / (ns / 1e9)

def m(v):
    return "–" if v is None else f"{v / 1e6:.3f} M"

engine = ["| case | kvflow (1 worker) | hand-written differential | HashMap loop | kvflow / differential |",
          "|---|---:|---:|---:|---:|"]
for case in ["group_by", "tumbling", "session", "join"]:
    k, d, h = rate("kvflow", case), rate("dd", case), rate("hashmap", case)
    ratio = f"{k / d:.2f}" if k and d else "–"
    engine.append(f"| {case} | {m(k)} | {m(d)} | {m(h)} | {ratio} |")

rows = []
for q in queries:
    path = os.path.join(nexmark, q, "results.jsonl")
    with open(path) as f:
        rows += [json.loads(line) for line in f]
workers = sorted({r["workers"] for r in rows})
head = "| query | " + " | ".join(f"{w}w events/s (min–max)" for w in workers)
head += " | events/s per worker (1w) | latency p50 / p99 ms (1w) | peak RSS MB (1w) | rows out |"
table = [head, "|---" * (len(workers) + 5) + "|"]
for q in queries:
    by_w = {r["workers"]: r for r in rows if r["query"] == q}
    cells = [f"{m(by_w[w]['events_per_s'])} ({by_w[w]['events_per_s_min']/1e6:.3f}–{by_w[w]['events_per_s_max']/1e6:.3f})"
             if w in by_w else "–" for w in workers]
    one = by_w.get(workers[0])
    rss = f"{one['peak_rss_mb']:.0f}" if one and one.get("peak_rss_mb") is not None else "–"
    table.append(f"| {q} | " + " | ".join(cells) +
                 f" | {m(one['events_per_s_per_worker'])} | {one['latency_p50_ms']:.1f} / {one['latency_p99_ms']:.1f}"
                 f" | {rss} | {one['rows_out']} |")
events = rows[0]["events"] if rows else 0

def replace(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        sys.exit(f"BENCHMARKS.md lacks the markers {begin} ... {end}")
    return pattern.sub(lambda _: begin + "\n" + body.strip() + "\n" + end, text)

with open("BENCHMARKS.md") as f:
    text = f.read()
text = replace(text, "machine", machine)
text = replace(text, "engine", "\n".join(engine))
text = replace(text, "nexmark", f"Nexmark input: {events} events per run.\n\n" + "\n".join(table))
with open("BENCHMARKS.md", "w") as f:
    f.write(text)
print("BENCHMARKS.md updated", file=sys.stderr)
PY
