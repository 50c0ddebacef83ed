//! Windowed state stays bounded over a long stream: the peak RSS of a run of 10M events is
//! within 1.2x of a run of 1M events over the same key space (`dataflows/window_counts.toml`:
//! tumbling, hopping and session windows over the events view, 1000 keys). So does the state
//! of an interval join and a window join (5M events against 1M). Each run is its own `kvflow
//! run` process with generated (streamed, not pre-loaded) input, and reports its peak RSS
//! (`VmHWM`) in its summary.

use std::path::Path;

use crate::support::{kvflow, repo, tmp};

const KEYS: &str = "1000";

/// Puts joined with the deletes of their key: within 200 ms after (an interval join), and in
/// the same 1 s window (a window join). The WHERE keeps no pair, so nothing is written.
const JOINS_SQL: &str = "
CREATE SOURCE ups FROM events WITH (kinds = 'insert,update');
CREATE SOURCE downs FROM events WITH (kinds = 'delete');
CREATE VIEW down_windows AS
SELECT * FROM TUMBLE(TABLE downs, DESCRIPTOR(ts), INTERVAL '1' SECOND);
INSERT INTO put_then_delete
SELECT ups.key AS key FROM ups JOIN downs ON ups.key = downs.key
 AND ups.ts BETWEEN downs.ts - 200 AND downs.ts
WHERE ups.ts - downs.ts > 1000000;
INSERT INTO deleted_in_window
SELECT ups.key AS key FROM TUMBLE(TABLE ups, DESCRIPTOR(ts), INTERVAL '1' SECOND)
JOIN down_windows ON ups.window_start = down_windows.window_start
 AND ups.window_end = down_windows.window_end AND ups.key = down_windows.key
WHERE ups.ts - down_windows.ts > 1000000;";

fn peak_rss_kib(events: u64) -> u64 {
    peak_rss_of(&repo("dataflows/window_counts.toml"), events)
}

fn peak_rss_of(file: &Path, events: u64) -> u64 {
    let dir = tmp();
    let out = dir.path().join("out");
    let output = kvflow()
        .arg("run")
        .arg(file)
        .args(["--generate", "uniform", "--keys", KEYS, "--seed", "3"])
        .args(["--events", &events.to_string(), "--output"])
        .arg(&out)
        .output()
        .expect("run kvflow");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "kvflow run failed:\n{stderr}");
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix("peak RSS: "))
        .unwrap_or_else(|| panic!("no peak RSS in the summary:\n{stderr}"));
    line.trim_end_matches(" kB")
        .parse()
        .expect("peak RSS in kB")
}

/// Runs in release builds (the README's test command); a debug build takes minutes.
#[test]
#[cfg_attr(debug_assertions, ignore)]
fn windowed_state_is_bounded_over_a_long_stream() {
    let short = peak_rss_kib(1_000_000);
    let long = peak_rss_kib(10_000_000);
    eprintln!("peak RSS: 1M events {short} kB, 10M events {long} kB");
    assert!(
        (long as f64) <= 1.2 * short as f64,
        "peak RSS grew from {short} kB (1M events) to {long} kB (10M events)"
    );
}

/// Runs in release builds (the README's test command); a debug build takes minutes.
#[test]
#[cfg_attr(debug_assertions, ignore)]
fn interval_and_window_join_state_is_bounded_over_a_long_stream() {
    let dir = tmp();
    let file = dir.path().join("joins.sql");
    std::fs::write(&file, JOINS_SQL).expect("write the dataflow");
    let short = peak_rss_of(&file, 1_000_000);
    let long = peak_rss_of(&file, 5_000_000);
    eprintln!("joins' peak RSS: 1M events {short} kB, 5M events {long} kB");
    assert!(
        (long as f64) <= 1.2 * short as f64,
        "peak RSS grew from {short} kB (1M events) to {long} kB (5M events)"
    );
}
