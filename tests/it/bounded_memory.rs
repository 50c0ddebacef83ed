//! Windowed state stays bounded over a long stream: the peak RSS of a run of 10M events is
//! within 1.2x of a run of 1M events over the same key space (`dataflows/window_counts.toml`:
//! tumbling, hopping and session windows over the events view, 1000 keys). Each run is its
//! own `kvflow run` process with generated (streamed, not pre-loaded) input, and reports its
//! peak RSS (`VmHWM`) in its summary.

use crate::support::{kvflow, repo, tmp};

const KEYS: &str = "1000";

fn peak_rss_kib(events: u64) -> u64 {
    let dir = tmp();
    let out = dir.path().join("out");
    let file = repo("dataflows/window_counts.toml");
    let output = kvflow()
        .arg("run")
        .arg(&file)
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
