#!/usr/bin/env bash
# kvflow against DuckDB on dataflows/window_counts.toml: the same four queries over the same
# stream, checked to agree row for row, with wall time and peak memory of each.
#
# Usage: scripts/vs_duckdb.sh [EVENTS] [WORKERS...]      (defaults: 2000000, workers 1 2)
#
# The stream is `kvflow generate keyed-stream` with EVENTS mutations over EVENTS/2 keys (so
# nearly every key is written twice), 400 mutations per second of event time and up to 200 ms
# out of order (the file's max_out_of_orderness, so nothing is late). Each engine runs once per
# worker count, as its own process timed by `/usr/bin/time -v` (wall time, peak RSS):
#   kvflow run dataflows/window_counts.toml --input STREAM --output DIR -w N
#   python scripts/vs_duckdb.py run STREAM DIR --threads N     (DuckDB from PyPI, in a venv)
# Both times include parsing the JSONL file and writing the result files; DuckDB's also
# includes starting Python and importing duckdb. Then every kvflow output is compared with
# DuckDB's, row for row (by_kind, a changelog, by its final state): any difference prints the
# first differing rows and fails the script.
#
# Files go to $VS_DUCKDB_DIR (default target/vs-duckdb): the venv is made once and reused.
set -euo pipefail

cd "$(dirname "$0")/.."
events=${1:-2000000}
if ! [[ $events =~ ^[0-9]+$ ]] || ((events < 2)); then
  echo "usage: $0 [EVENTS] [WORKERS...]   (EVENTS: an integer of at least 2)" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
workers=("$@")
((${#workers[@]})) || workers=(1 2)
for w in "${workers[@]}"; do
  [[ $w =~ ^[1-9][0-9]*$ ]] || { echo "$0: bad worker count '$w'" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "$0: needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 2; }

dir=${VS_DUCKDB_DIR:-target/vs-duckdb}
venv=$dir/venv
mkdir -p "$dir"
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  echo "== making $venv with duckdb from PyPI" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi
python=$venv/bin/python

echo "== building kvflow (release)" >&2
cargo build --release --quiet --bin kvflow
kvflow=target/release/kvflow

stream=$dir/keyed-stream-$events.jsonl
keys=$((events / 2))
echo "== generating $events mutations over $keys keys: $stream" >&2
"$kvflow" generate keyed-stream --events "$events" --keys "$keys" --rate-per-sec 400 \
  --disorder-ms 200 --seed 1 -o "$stream"

specs=()
for w in "${workers[@]}"; do
  out=$dir/kvflow-w$w
  rm -rf "$out"
  echo "== kvflow run dataflows/window_counts.toml --input $stream --output $out -w $w" >&2
  /usr/bin/time -v -o "$dir/time-kvflow-w$w.txt" \
    "$kvflow" run dataflows/window_counts.toml --input "$stream" --output "$out" -w "$w" \
    >"$dir/kvflow-w$w.log" 2>&1 || { cat "$dir/kvflow-w$w.log" >&2; exit 1; }
  specs+=("kvflow:$w:$dir/time-kvflow-w$w.txt")
done
for w in "${workers[@]}"; do
  out=$dir/duckdb-t$w
  rm -rf "$out"
  echo "== python scripts/vs_duckdb.py run $stream $out --threads $w" >&2
  /usr/bin/time -v -o "$dir/time-duckdb-t$w.txt" \
    "$python" scripts/vs_duckdb.py run "$stream" "$out" --threads "$w"
  specs+=("duckdb:$w:$dir/time-duckdb-t$w.txt")
done

echo "== comparing every output with DuckDB's" >&2
status=0
for w in "${workers[@]}"; do
  "$python" scripts/vs_duckdb.py compare "$dir/duckdb-t$w" "$dir/kvflow-w$w" || status=1
done

echo
echo "kvflow against DuckDB: dataflows/window_counts.toml, $events mutations, $keys keys"
"$python" scripts/vs_duckdb.py table "${specs[@]}"
if ((status)); then
  echo "$0: kvflow and DuckDB disagree (see above)" >&2
fi
exit $status
