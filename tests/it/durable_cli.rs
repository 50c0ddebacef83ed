//! `kvflow watch` and `kvflow replay` over a data directory: the change stream against a
//! brute-force oracle (the input applied to one shard state in order), resuming from a
//! token across a crash and restart, bad and expired tokens, and replay against the live
//! run's output.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{change_events as oracle, kvflow, kvflow_output, s};

const DATAFLOW: &str = "dataflows/window_counts.toml";

fn watched(data: &Path, extra: &[&str]) -> Vec<(u64, String, String, String)> {
    let mut args = vec!["watch", "--data-dir", s(data)];
    args.extend_from_slice(extra);
    let out = kvflow_output(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["seq"].as_u64().unwrap(),
                v["kind"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
                v["token"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn without_tokens(events: &[(u64, String, String, String)]) -> Vec<(u64, String, String)> {
    events
        .iter()
        .map(|(a, b, c, _)| (*a, b.clone(), c.clone()))
        .collect()
}

struct Dirs {
    tmp: tempfile::TempDir,
}

impl Dirs {
    fn new(events: &str) -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in.jsonl");
        let out = kvflow_output(&[
            "generate",
            "uniform",
            "--keys",
            "300",
            "--seed",
            "5",
            "--events",
            events,
            "-o",
            s(&input),
        ]);
        assert!(out.status.success());
        Dirs { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn run(&self, workers: &str, env: Option<(&str, &str)>) -> Output {
        let mut command = kvflow();
        command.args([
            "run",
            DATAFLOW,
            "--input",
            s(&self.path("in.jsonl")),
            "--output",
            s(&self.path("live")),
            "--data-dir",
            s(&self.path("data")),
            "--checkpoint-every",
            "2000",
            "--batch-events",
            "1000",
            "--snapshot-every",
            "1500",
            "-w",
            workers,
        ]);
        if let Some((k, v)) = env {
            command.env(k, v);
        }
        command.output().unwrap()
    }
}

#[test]
fn watch_resumes_exactly_after_a_token_across_a_crash_and_restart() {
    let dirs = Dirs::new("20000");
    let expected = oracle(&dirs.path("in.jsonl"));
    let crashed = dirs.run("2", Some(("KVFLOW_CRASH_AT", "checkpoint:3")));
    assert!(!crashed.status.success());
    let before = watched(&dirs.path("data"), &[]);
    assert!(before.len() > 1000 && before.len() < expected.len());
    // Logged past the last checkpoint, shards may stand at different positions: every
    // event shown must still be the oracle's, in seq order.
    let known: std::collections::HashSet<_> = expected.iter().cloned().collect();
    let shown = without_tokens(&before);
    assert!(
        shown.iter().all(|e| known.contains(e)),
        "an event not in the oracle"
    );
    assert!(
        shown.windows(2).all(|w| w[0].0 < w[1].0),
        "events out of seq order"
    );
    let (seq, _, _, token) = before[before.len() / 2].clone();
    let finished = dirs.run("2", None);
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let resumed = watched(&dirs.path("data"), &["--from", &token]);
    let after: Vec<_> = expected.iter().filter(|e| e.0 > seq).cloned().collect();
    assert!(
        without_tokens(&resumed) == after,
        "resume from {token} differs"
    );
    assert!(without_tokens(&watched(&dirs.path("data"), &[])) == expected);
    let deletes = watched(&dirs.path("data"), &["--kinds", "delete", "--keys", "^a"]);
    let want: Vec<_> = expected
        .iter()
        .filter(|e| e.1 == "delete" && e.2.starts_with('a'))
        .cloned()
        .collect();
    assert!(!want.is_empty() && without_tokens(&deletes) == want);
}

#[test]
fn bad_and_expired_tokens_are_clear_errors() {
    let dirs = Dirs::new("3000");
    assert!(dirs.run("1", None).status.success());
    let data = dirs.path("data");
    let bad = kvflow_output(&["watch", "--data-dir", s(&data), "--from", "zero"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad resume token `zero`"));
    std::fs::write(data.join("shard-0").join("floor"), "1500").unwrap();
    let old = kvflow_output(&["watch", "--data-dir", s(&data), "--from", "0:1000"]);
    let message = String::from_utf8_lossy(&old.stderr);
    assert!(message.contains("older than the retained log"), "{message}");
}

/// Replays `dirs`' data directory into `output` with `extra` flags; returns its stderr.
fn replay_into(dirs: &Dirs, output: &Path, extra: &[&str]) -> String {
    let data = dirs.path("data");
    let mut args = vec![
        "replay",
        "--data-dir",
        s(&data),
        DATAFLOW,
        "--output",
        s(output),
    ];
    args.extend_from_slice(extra);
    let out = kvflow_output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn replay_gives_the_live_run_output() {
    let dirs = Dirs::new("20000");
    assert!(dirs.run("1", None).status.success());
    let replayed = dirs.path("replayed");
    replay_into(&dirs, &replayed, &[]);
    let mut compared = 0;
    for entry in std::fs::read_dir(dirs.path("live")).unwrap() {
        let entry = entry.unwrap();
        let live = std::fs::read(entry.path()).unwrap();
        let again = std::fs::read(replayed.join(entry.file_name())).unwrap();
        assert!(live == again, "{:?} differs", entry.file_name());
        compared += 1;
    }
    assert!(compared >= 4);
}

/// Each output file of `dir` by name, its lines sorted.
fn sorted_files(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<(String, Vec<String>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            (
                path.file_name().unwrap().to_string_lossy().to_string(),
                lines,
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_replay_split_among_workers_gives_the_live_run_output() {
    let dirs = Dirs::new("20000");
    assert!(dirs.run("4", None).status.success());
    let live = sorted_files(&dirs.path("live"));
    assert!(live.len() >= 4 && live.iter().all(|(_, lines)| !lines.is_empty()));
    // NB: 3 workers read the four shards' logs unevenly (worker 0 reads two).
    for workers in ["1", "2", "3", "4"] {
        let replayed = dirs.path(&format!("replayed-{workers}"));
        let stderr = replay_into(&dirs, &replayed, &["-w", workers]);
        assert!(stderr.contains("events in: 20000 "), "{stderr}");
        assert!(sorted_files(&replayed) == live, "-w {workers} differs");
    }
}

/// Raw output rows (`{"diff":..,"time":..,..}`) of every file in `dir`, with their time.
fn raw_lines(dir: &Path) -> Vec<(u64, String)> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            // NB: error and late lines carry no time; the rows say what the cut does.
            if let Some(time) = v["time"].as_u64() {
                lines.push((time, format!("{name} {line}")));
            }
        }
    }
    lines.sort();
    lines
}

fn replay_raw(dirs: &Dirs, out: &str, extra: &[&str]) -> Vec<(u64, String)> {
    let dir = dirs.path(out);
    let mut args = vec!["--raw"];
    args.extend_from_slice(extra);
    replay_into(dirs, &dir, &args);
    raw_lines(&dir)
}

#[test]
fn replay_from_a_token_or_a_time_gives_the_live_output_from_that_batch_on() {
    let dirs = Dirs::new("20000");
    assert!(dirs.run("2", None).status.success());
    let whole = replay_raw(&dirs, "whole", &[]);
    let events = watched(&dirs.path("data"), &[]);
    let (_, _, _, token) = events[events.len() / 2].clone();
    let since_ts = {
        let line = kvflow_output(&["watch", "--data-dir", s(&dirs.path("data"))]).stdout;
        let text = String::from_utf8(line).unwrap();
        let middle = text.lines().nth(events.len() / 3).unwrap().to_string();
        let v: serde_json::Value = serde_json::from_str(&middle).unwrap();
        v["ts"].as_u64().unwrap().to_string()
    };
    for (name, extra) in [
        ("from", ["--from", token.as_str()]),
        ("since", ["--since", &since_ts]),
    ] {
        let cut = replay_raw(&dirs, name, &extra);
        let first = cut.first().expect("a cut replay writes something").0;
        let tail: Vec<_> = whole.iter().filter(|(t, _)| *t >= first).cloned().collect();
        assert!(
            tail.len() < whole.len() && cut == tail,
            "replay --{name} is not the whole replay's output from time {first} on"
        );
    }
    std::fs::write(dirs.path("data").join("shard-0").join("floor"), "10").unwrap();
    let refused = kvflow_output(&["replay", "--data-dir", s(&dirs.path("data")), DATAFLOW]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("cut by retention"), "{message}");
}
