//! Crash test: `kvflow run --data-dir` killed with SIGKILL at seeded random moments and
//! restarted each time, plus aborts inside a snapshot write and a checkpoint write; the
//! final output files must equal an uninterrupted run's byte for byte.
//!
//! Release builds run it on 1M mutations; debug builds on 50k, to stay fast.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DATAFLOW: &str = r#"
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

fn kvflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvflow"))
}

/// A small deterministic generator for the kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(events: u64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flow.toml"), DATAFLOW).unwrap();
        let status = kvflow()
            .args(["generate", "zipf", "--keys", "5000", "--seed", "11"])
            .args([
                "--disorder-ms",
                "300",
                "--events",
                &events.to_string(),
                "-o",
            ])
            .arg(dir.path().join("in.jsonl"))
            .status()
            .unwrap();
        assert!(status.success());
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, output: &str, durable: bool) -> Command {
        let mut command = kvflow();
        command
            .arg("run")
            .arg(self.path("flow.toml"))
            .arg("--input")
            .arg(self.path("in.jsonl"))
            .arg("--output")
            .arg(self.path(output))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if durable {
            command.arg("--data-dir").arg(self.path("data")).args([
                "--checkpoint-every",
                "15000",
                "--snapshot-every",
                "20000",
            ]);
        }
        command
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn crash_and_restart(events: u64, kills: usize, seed: u64) {
    let setup = Setup::new(events);
    let started = Instant::now();
    assert!(setup.run("ref", false).status().unwrap().success());
    let full_ms = started.elapsed().as_millis() as u64;
    for point in ["snapshot:1", "checkpoint:3"] {
        let status = setup
            .run("out", true)
            .env("KVFLOW_CRASH_AT", point)
            .status()
            .unwrap();
        assert!(!status.success(), "{point}: the run was not aborted");
    }
    let mut rng = Rng(seed);
    let mut killed = 0;
    for _ in 0..kills {
        let mut child = setup.run("out", true).spawn().unwrap();
        let delay = full_ms / 10 + rng.below(full_ms);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(setup.run("out", true).status().unwrap().success());
    assert!(
        killed >= kills / 2,
        "only {killed} of {kills} runs were killed"
    );
    let (expected, actual) = (files(&setup.path("ref")), files(&setup.path("out")));
    assert_eq!(
        expected.iter().map(|f| &f.0).collect::<Vec<_>>(),
        actual.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, want), (_, got)) in expected.iter().zip(&actual) {
        assert!(want == got, "{name} differs after {killed} kills");
        assert!(!want.is_empty(), "{name} is empty");
    }
    // A completed run only replays: running it again changes nothing.
    assert!(setup.run("out", true).status().unwrap().success());
    assert_eq!(files(&setup.path("out")), expected);
}

/// 1M mutations and 12 kills in release builds (the README's test command, about a minute);
/// 50k in debug builds.
#[test]
fn killed_runs_resume_to_the_uninterrupted_output() {
    if cfg!(debug_assertions) {
        crash_and_restart(50_000, 10, 0x5eed_c0de);
    } else {
        crash_and_restart(1_000_000, 12, 0xdead_beef);
    }
}
