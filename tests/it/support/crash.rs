//! Shared pieces of the crash, cluster, sink and retention tests: the windows-and-table
//! dataflow they kill, killing a run at a checkpoint (so that every kill lands), and the
//! comparison of output directories.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use super::{Workdir, files};

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

/// A [`Workdir`] with [`WINDOWS_AND_TABLE`] over `events` mutations of 5000 zipf-distributed
/// keys, up to 300 ms out of order, generated from `seed`.
pub fn windows_and_table_workdir(events: u64, seed: u64) -> Workdir {
    let (events, seed) = (events.to_string(), seed.to_string());
    let generator = [
        "zipf",
        "--keys",
        "5000",
        "--seed",
        &seed,
        "--disorder-ms",
        "300",
    ];
    Workdir::new(
        WINDOWS_AND_TABLE,
        &[&generator[..], &["--events", &events]].concat(),
    )
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

/// How a crash test stops a run at its n-th checkpoint (counting from its start).
#[derive(Clone, Copy, Debug)]
pub enum Kill {
    /// The run aborts itself half-way through writing its n-th checkpoint
    /// (`KVFLOW_CRASH_AT=checkpoint:<n>`, see `kvflow::store::faults`).
    InsideCheckpoint(u64),
    /// SIGKILL as soon as the n-th checkpoint has been written, between two checkpoints.
    AfterCheckpoint(u64),
}

impl Kill {
    /// Round `round`'s kill: inside a checkpoint in even rounds, after one in odd rounds, at
    /// a seeded one of the first `most` checkpoints.
    pub fn pick(round: usize, rng: &mut super::Rng, most: u64) -> Kill {
        let n = 1 + rng.below(most);
        if round.is_multiple_of(2) {
            Kill::InsideCheckpoint(n)
        } else {
            Kill::AfterCheckpoint(n)
        }
    }

    /// Arms `command` for an inside-the-write kill (nothing for the others).
    pub fn arm(self, command: &mut Command) -> &mut Command {
        if let Kill::InsideCheckpoint(n) = self {
            command.env("KVFLOW_CRASH_AT", format!("checkpoint:{n}"));
        }
        command
    }

    /// Lets `child` (started from a command [`Kill::arm`]ed with this kill) run to the kill,
    /// watching the checkpoint files `checkpoints` of its run, and asserts that the kill
    /// landed: the process was still running and died of it.
    pub fn land(self, child: &mut Child, checkpoints: &[PathBuf]) {
        let status = match self {
            Kill::InsideCheckpoint(_) => child.wait().expect("wait for the run"),
            Kill::AfterCheckpoint(n) => {
                wait_for_checkpoints(child, checkpoints, n);
                child.kill().expect("SIGKILL");
                child.wait().expect("wait for the run")
            }
        };
        let signal = match self {
            Kill::InsideCheckpoint(_) => 6, // SIGABRT
            Kill::AfterCheckpoint(_) => 9,  // SIGKILL
        };
        assert_eq!(
            status.signal(),
            Some(signal),
            "{self:?} did not land: the run ended with {status}"
        );
    }
}

/// Waits until the checkpoint files `paths` were rewritten `wanted` times (any of them) while
/// `child` runs; fails if it ends first (a kill after that could not land) or after 5 min.
pub fn wait_for_checkpoints(child: &mut Child, paths: &[PathBuf], wanted: u64) {
    let written = || -> Vec<Option<SystemTime>> {
        paths
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = written();
    let mut seen = 0;
    while seen < wanted {
        if let Some(status) = child.try_wait().expect("poll the run") {
            panic!("the run ended ({status}) after {seen} of {wanted} checkpoints");
        }
        assert!(Instant::now() < deadline, "no checkpoint for 5 minutes");
        std::thread::sleep(Duration::from_millis(1));
        let now = written();
        if now != last {
            seen += 1;
            last = now;
        }
    }
}
