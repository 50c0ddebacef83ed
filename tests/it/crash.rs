//! Crash test: `kvflow run --data-dir` killed at seeded checkpoints and restarted each time
//! (aborted half-way through writing its n-th checkpoint, or killed with SIGKILL just after
//! it), plus an abort inside a snapshot write; every kill must land, and the final output
//! files must equal an uninterrupted run's byte for byte.
//!
//! Release builds run it on 1M mutations; debug builds on 50k, to stay fast.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::crash::{Kill, assert_same_files, windows_and_table_workdir};
use crate::support::{Rng, Workdir, files};

/// Checkpoints per uninterrupted run: a dozen kills, each at most three checkpoints into its
/// run, never get near the end of the input.
const CHECKPOINTS_PER_RUN: u64 = 64;

struct Setup {
    work: Workdir,
    events: u64,
}

impl Setup {
    fn new(events: u64) -> Setup {
        let work = windows_and_table_workdir(events, 11);
        Setup { work, events }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path(name)
    }

    fn run(&self, output: &str, durable: bool) -> Command {
        let mut command = self.work.run();
        command
            .arg("--output")
            .arg(self.path(output))
            .arg("--batch-events")
            .arg((self.events / CHECKPOINTS_PER_RUN / 2).to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if durable {
            command
                .arg("--data-dir")
                .arg(self.path("data"))
                .arg("--checkpoint-every")
                .arg((self.events / CHECKPOINTS_PER_RUN).to_string())
                .args(["--snapshot-every", "20000"]);
        }
        command
    }
}

fn crash_and_restart(events: u64, kills: usize, seed: u64) {
    let setup = Setup::new(events);
    assert!(setup.run("ref", false).status().unwrap().success());
    let status = setup
        .run("out", true)
        .env("KVFLOW_CRASH_AT", "snapshot:1")
        .status()
        .unwrap();
    assert!(!status.success(), "snapshot:1: the run was not aborted");
    let mut rng = Rng::new(seed);
    let checkpoint = [setup.path("data/checkpoint.json")];
    for round in 0..kills {
        let kill = Kill::pick(round, &mut rng, 3);
        let mut child = kill.arm(&mut setup.run("out", true)).spawn().unwrap();
        kill.land(&mut child, &checkpoint);
    }
    assert!(setup.run("out", true).status().unwrap().success());
    assert_same_files(
        &setup.path("ref"),
        &setup.path("out"),
        &format!("after {kills} kills"),
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
