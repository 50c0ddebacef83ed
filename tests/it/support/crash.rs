//! Shared pieces of the crash, cluster, sink and retention tests: the windows-and-table
//! dataflow they kill, the kill-moment generator, and readers of output directories.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// A tumbling window and sessions over the events, and a group-by over the live table.
pub const WINDOWS_AND_TABLE: &str = r#"
[sources.events]
view = "events"
max_out_of_orderness = 200

[sources.table]
view = "table"

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
name = "sessions"
from = "events"

[[pipelines.steps]]
window = { kind = "session", gap = 300 }
group_by = ["key"]
aggregates = { count = "count(*)" }

[[pipelines]]
name = "live"
from = "table"
final_state = true

[[pipelines.steps]]
map = { prefix = "split_part(key, '_', 1)", v = "CAST(value.v AS INT)" }

[[pipelines.steps]]
group_by = ["prefix"]
aggregates = { live_keys = "count(*)", total = "sum(v)" }
"#;

pub fn kvflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvflow"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A small deterministic generator for the kill moments (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Every file of `dir` with its bytes, by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read output"))
        })
        .collect();
    out.sort();
    out
}

/// Each output's lines sorted, the part files of a cluster's processes merged under one name.
pub fn sorted_outputs(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, bytes) in files(dir) {
        let name = match file.find(".part-") {
            Some(at) => file[..at].to_string(),
            None => file.trim_end_matches(".jsonl").to_string(),
        };
        let text = String::from_utf8(bytes).expect("utf-8 output");
        by_name
            .entry(name)
            .or_default()
            .extend(text.lines().map(str::to_string));
    }
    by_name.values_mut().for_each(|lines| lines.sort());
    by_name
}

/// Asserts `dir`'s files equal `reference`'s byte for byte (and are not empty).
pub fn assert_same_files(reference: &Path, dir: &Path, after: &str) {
    let (expected, actual) = (files(reference), files(dir));
    assert_eq!(
        expected.iter().map(|f| &f.0).collect::<Vec<_>>(),
        actual.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, want), (_, got)) in expected.iter().zip(&actual) {
        assert!(!want.is_empty(), "{name} is empty");
        assert!(want == got, "{name} differs {after}");
    }
}

/// Waits until the checkpoint files `paths` were rewritten `wanted` times (any of them), or
/// `limit` passed: a kill after that always finds progress to resume, and a run killed after
/// a few checkpoints never gets near the end of its input.
pub fn wait_for_checkpoints(paths: &[PathBuf], wanted: u64, limit: Duration) {
    let written = || -> Vec<Option<SystemTime>> {
        paths
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    };
    let deadline = Instant::now() + limit;
    let mut last = written();
    let mut seen = 0;
    while seen < wanted && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
        let now = written();
        if now != last {
            seen += 1;
            last = now;
        }
    }
}
