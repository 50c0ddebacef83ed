//! Crash test: `kvflow run --data-dir` killed with SIGKILL at seeded random moments and
//! restarted each time, plus aborts inside a snapshot write and a checkpoint write; the
//! final output files must equal an uninterrupted run's byte for byte.
//!
//! Release builds run it on 1M mutations; debug builds on 50k, to stay fast.

mod crash_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash_support::{Rng, WINDOWS_AND_TABLE, assert_same_files, files, kvflow};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(events: u64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flow.toml"), WINDOWS_AND_TABLE).unwrap();
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
    assert_same_files(
        &setup.path("ref"),
        &setup.path("out"),
        &format!("after {killed} kills"),
    );
    let expected = files(&setup.path("ref"));
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
