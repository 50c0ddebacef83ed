#!/usr/bin/env python3
"""The four queries of dataflows/window_counts.toml in DuckDB, and a row-for-row comparison.

Used by scripts/vs_duckdb.sh; three commands:

  vs_duckdb.py run INPUT.jsonl OUTDIR [--threads N]
      Loads the mutation stream into DuckDB, computes tumbling, hopping, sessions and by_kind,
      and writes OUTDIR/<pipeline>.jsonl. Everything this process does is what is timed:
      interpreter start, `import duckdb`, parsing the JSONL file into a table, the queries,
      and writing the four result files (kvflow's timed run also parses its input and writes
      its outputs).
  vs_duckdb.py compare DUCKDB_OUTDIR KVFLOW_OUTDIR...
      Compares the rows of each pipeline as multisets; exits 1 at the first difference.
  vs_duckdb.py table LABEL:WORKERS:TIMEFILE...
      Prints engine, workers, wall s, peak RSS MB and the ratios to DuckDB from the reports
      of `/usr/bin/time -v`.

The queries follow kvflow's semantics exactly:
- events (the `events` view): a mutation's kind comes from its key's previous state in input
  order (store::event_kind): a put of an absent key is an insert, of a live key an update, a
  delete of a live key a delete, and a delete of an absent key is no event at all. A delete
  event's value is null.
- tumbling: windows [k*1000, (k+1)*1000) aligned to epoch 0, per prefix (`split_part(key,
  '_', 1)`), count(*) and sum(CAST(value AS INT)) (null values are skipped; null when all are).
- hopping: windows [k*500, k*500+2000) holding the event's ts (four per event), per prefix.
- sessions: per key, events sorted by ts; a difference of at most 500 ms stays in the session.
  A session is [first ts, last ts + 500).
- by_kind: counts per (kind, prefix). kvflow writes it as a changelog
  ({"op":"upsert"|"delete", ...}); its final state is what is compared.
The stream must have nothing late (max_out_of_orderness 200 in the file, disorder at most
200 ms in the stream): `compare` refuses a kvflow output with late or error rows.
"""

import collections
import json
import os
import re
import sys
import time

PIPELINES = ("tumbling", "hopping", "sessions", "by_kind")
CHANGELOGS = ("by_kind",)
TUMBLING = 1000
HOP_SIZE, HOP_SLIDE = 2000, 500
GAP = 500

QUERIES = {
    "tumbling": f"""
        SELECT ts // {TUMBLING} * {TUMBLING} AS window_start,
               ts // {TUMBLING} * {TUMBLING} + {TUMBLING} AS window_end,
               prefix, count(*) AS count, sum(v) AS sum
        FROM events GROUP BY ALL""",
    "hopping": f"""
        SELECT (ts // {HOP_SLIDE} - j) * {HOP_SLIDE} AS window_start,
               (ts // {HOP_SLIDE} - j) * {HOP_SLIDE} + {HOP_SIZE} AS window_end,
               prefix, count(*) AS count
        FROM events, range({HOP_SIZE // HOP_SLIDE}) AS r(j)
        GROUP BY ALL""",
    "sessions": f"""
        WITH marked AS (
            SELECT key, ts,
                   CASE WHEN ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) <= {GAP}
                        THEN 0 ELSE 1 END AS starts
            FROM events),
        numbered AS (
            SELECT key, ts,
                   sum(starts) OVER (PARTITION BY key ORDER BY ts
                                     ROWS UNBOUNDED PRECEDING) AS session
            FROM marked)
        SELECT min(ts) AS window_start, max(ts) + {GAP} AS window_end, key, count(*) AS count
        FROM numbered GROUP BY key, session""",
    "by_kind": """
        SELECT kind, prefix, count(*) AS count FROM events GROUP BY ALL""",
}


def run(input_path, out_dir, threads):
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(config={"threads": threads})
    # NB: a table created from the file keeps the file's order (DuckDB preserves insertion
    # order by default), so rowid is the line number: the order kinds are decided in.
    con.execute(
        """CREATE TABLE mutations AS SELECT * FROM read_json(?, format = 'newline_delimited',
               columns = {ts: 'BIGINT', op: 'VARCHAR', key: 'VARCHAR', value: 'BIGINT'})""",
        [input_path],
    )
    loaded = time.perf_counter()
    con.execute(
        """CREATE TABLE events AS
        WITH previous AS (
            SELECT rowid AS seq, ts, op, key, value,
                   lag(op) OVER (PARTITION BY key ORDER BY rowid) = 'put' AS existed
            FROM mutations)
        SELECT seq, ts, key, split_part(key, '_', 1) AS prefix,
               CASE WHEN op = 'put' THEN value END AS v,
               CASE WHEN op = 'put' AND existed THEN 'update'
                    WHEN op = 'put' THEN 'insert'
                    ELSE 'delete' END AS kind
        FROM previous
        WHERE op = 'put' OR existed"""
    )
    os.makedirs(out_dir, exist_ok=True)
    for name, query in QUERIES.items():
        path = os.path.join(out_dir, f"{name}.jsonl")
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT json)")
    done = time.perf_counter()
    print(
        f"duckdb {duckdb.__version__}, {threads} thread(s): load {loaded - started:.2f} s, "
        f"kinds + queries + write {done - loaded:.2f} s",
        file=sys.stderr,
    )


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def final_state(rows, path):
    """The state a changelog ends in: the last line of each group (one worker owns a group
    and writes its changes in time order)."""
    state = {}
    for row in rows:
        op = row.pop("op", None)
        group = json.dumps({k: v for k, v in row.items() if k != "count"}, sort_keys=True)
        if op == "upsert":
            state[group] = row
        elif op == "delete":
            state.pop(group, None)
        else:
            sys.exit(f"{path}: not a changelog row: {row}")
    return list(state.values())


def canonical(rows):
    return collections.Counter(json.dumps(row, sort_keys=True) for row in rows)


def compare(duck_dir, kvflow_dirs):
    expected = {
        name: canonical(read_rows(os.path.join(duck_dir, f"{name}.jsonl")))
        for name in PIPELINES
    }
    failed = False
    for kv_dir in kvflow_dirs:
        extra = sorted(set(os.listdir(kv_dir)) - {f"{name}.jsonl" for name in PIPELINES})
        if extra:
            print(f"{kv_dir}: unexpected outputs (late or error rows?): {extra}")
            failed = True
        for name in PIPELINES:
            path = os.path.join(kv_dir, f"{name}.jsonl")
            rows = read_rows(path) if os.path.exists(path) else []
            if name in CHANGELOGS:
                rows = final_state(rows, path)
            got = canonical(rows)
            want = expected[name]
            if got == want:
                print(f"{path}: {sum(got.values())} rows, identical to DuckDB's")
                continue
            failed = True
            print(f"{path}: differs from DuckDB ({sum(got.values())} rows against "
                  f"{sum(want.values())}); the first rows only one side has:")
            for label, only in (("kvflow", got - want), ("duckdb", want - got)):
                for line in sorted(only.elements())[:3]:
                    print(f"  only {label}: {line}")
    return 1 if failed else 0


def time_report(path):
    """(wall seconds, peak RSS in MB) from a `/usr/bin/time -v` report."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        sys.exit(f"{path}: not a `/usr/bin/time -v` report")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds, int(rss.group(1)) / 1024


def table(specs):
    rows = []
    for spec in specs:
        label, workers, path = spec.split(":", 2)
        rows.append((label, int(workers), *time_report(path)))
    duck = {w: (s, m) for label, w, s, m in rows if label == "duckdb"}
    print(f"{'engine':<8} {'workers':>7} {'wall s':>8} {'peak RSS MB':>12} {'wall / duckdb':>14} {'RSS / duckdb':>13}")
    for label, workers, seconds, mb in rows:
        base = duck.get(workers)
        ratios = (f"{seconds / base[0]:14.2f} {mb / base[1]:13.2f}" if base and label != "duckdb"
                  else f"{'':>14} {'':>13}")
        print(f"{label:<8} {workers:>7} {seconds:8.2f} {mb:12.0f} {ratios}")
    print("(ratios against DuckDB with as many threads as kvflow has workers)")


def main(argv):
    if len(argv) >= 3 and argv[0] == "run":
        threads = 1
        if len(argv) == 5 and argv[3] == "--threads":
            threads = int(argv[4])
        elif len(argv) != 3:
            sys.exit(__doc__)
        run(argv[1], argv[2], threads)
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        return compare(argv[1], argv[2:])
    if len(argv) >= 2 and argv[0] == "table":
        table(argv[1:])
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
