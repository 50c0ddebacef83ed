//! Batches cut by volume as well as by event time (`--batch-events`): the same input with
//! different batch volumes and worker counts gives byte-identical windowed rows, late rows
//! and final states (a changelog may consolidate differently; its final state may not).

use std::collections::BTreeMap;

use crate::support::{Workdir, assert_success, sorted_outputs};

/// `window_counts.toml`'s four pipelines with their final states kept, and a table-view sum
/// (a changelog with retractions).
const FLOW: &str = r#"
[sources.events]
view = "events"
max_out_of_orderness = 200

[sources.table]
view = "table"
max_out_of_orderness = 200

[[pipelines]]
name = "tumbling"
from = "events"
[[pipelines.steps]]
map = { prefix = "split_part(key, '_', 1)", ts = "ts", v = "CAST(value.v AS INT)" }
[[pipelines.steps]]
window = { kind = "tumbling", size = 1000 }
group_by = ["prefix"]
aggregates = { count = "count(*)", sum = "sum(v)" }

[[pipelines]]
name = "hopping"
from = "events"
[[pipelines.steps]]
map = { prefix = "split_part(key, '_', 1)", ts = "ts" }
[[pipelines.steps]]
window = { kind = "sliding", size = 2000, slide = 500 }
group_by = ["prefix"]
aggregates = { count = "count(*)" }

[[pipelines]]
name = "sessions"
from = "events"
[[pipelines.steps]]
window = { kind = "session", gap = 500 }
group_by = ["key"]
aggregates = { count = "count(*)" }

[[pipelines]]
name = "by_kind"
from = "events"
final_state = true
[[pipelines.steps]]
map = { kind = "kind", prefix = "split_part(key, '_', 1)" }
[[pipelines.steps]]
group_by = ["kind", "prefix"]
aggregates = { count = "count(*)" }

[[pipelines]]
name = "table_sum"
from = "table"
final_state = true
[[pipelines.steps]]
map = { prefix = "split_part(key, '_', 1)", v = "CAST(value.v AS INT)" }
[[pipelines.steps]]
group_by = ["prefix"]
aggregates = { n = "count(*)", total = "sum(v)" }
"#;

/// The changelogs: their rows may consolidate differently with other batches.
const CHANGELOGS: [&str; 2] = ["by_kind", "table_sum"];

/// Every output of a run, sorted, by name.
fn run_all(
    dir: &Workdir,
    out: &str,
    workers: &str,
    batch_events: &str,
) -> BTreeMap<String, Vec<String>> {
    let output = dir
        .run()
        .args(["--output", dir.path(out).to_str().expect("utf-8 path")])
        .args(["-w", workers, "--batch-events", batch_events])
        .output()
        .expect("run kvflow");
    assert_success(&output);
    sorted_outputs(&dir.path(out))
}

/// The outputs of a run that must not depend on its batches.
fn run(
    dir: &Workdir,
    out: &str,
    workers: &str,
    batch_events: &str,
) -> BTreeMap<String, Vec<String>> {
    run_all(dir, out, workers, batch_events)
        .into_iter()
        .filter(|(name, _)| !CHANGELOGS.contains(&name.as_str()))
        .collect()
}

#[test]
fn batch_volume_and_workers_do_not_change_windowed_late_or_final_rows() {
    // Disorder beyond the sources' 200 ms makes late rows.
    let dir = Workdir::new(
        FLOW,
        &[
            "uniform",
            "--keys",
            "4000",
            "--events",
            "40000",
            "--disorder-ms",
            "600",
            "--seed",
            "3",
        ],
    );
    let by_time = run(&dir, "a", "1", "0");
    // The flag changes the batches: the changelog of one batch is the final state alone.
    let one_batch = run_all(&dir, "one", "1", "1000000");
    let changelog = |outputs: &BTreeMap<String, Vec<String>>| outputs["by_kind"].len();
    assert!(changelog(&run_all(&dir, "a2", "1", "0")) > changelog(&one_batch));
    for name in [
        "tumbling",
        "hopping",
        "sessions",
        "tumbling.late",
        "by_kind.final",
    ] {
        assert!(
            by_time.get(name).is_some_and(|rows| !rows.is_empty()),
            "{name} has rows: {:?}",
            by_time.keys()
        );
    }
    for (out, workers, batch_events) in
        [("b", "4", "37"), ("c", "2", "1000000"), ("d", "1", "2500")]
    {
        let got = run(&dir, out, workers, batch_events);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            by_time.keys().collect::<Vec<_>>(),
            "-w {workers} --batch-events {batch_events}: the same output files"
        );
        for (name, rows) in &by_time {
            assert!(
                got[name] == *rows,
                "{name} differs with -w {workers} --batch-events {batch_events}"
            );
        }
    }
}
