//! Crash test of a 2-process cluster with `--data-dir` (one data directory per process):
//! one process is killed at a seeded checkpoint (aborted inside the write, or SIGKILLed just
//! after it), the other stopped after it, and both restarted each time; every kill must
//! land. The final output, sorted per pipeline across the processes' part files, must equal
//! a single-process uninterrupted run's.
//!
//! Release builds run it on 200k mutations; debug builds on 30k.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::support::crash::{Kill, windows_and_table_workdir};
use crate::support::{Rng, Workdir, free_port, sorted_outputs};

struct Setup {
    work: Workdir,
    events: u64,
}

impl Setup {
    fn new(events: u64) -> Setup {
        let work = windows_and_table_workdir(events, 17);
        Setup { work, events }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path(name)
    }

    fn command(&self, output: &str) -> Command {
        let mut command = self.work.run();
        command
            .arg("--output")
            .arg(self.path(output))
            .arg("--batch-events")
            .arg((self.events / 80).to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Both processes of the cluster, on fresh ports, each with its own data directory
    /// `<run>-data-<p>`, writing to `<run>/`; process `victim` armed with `kill`, if any.
    fn spawn_cluster(&self, run: &str, kill: Option<(usize, Kill)>) -> Vec<Child> {
        let hosts = self.path("hosts.txt");
        let text = format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port());
        std::fs::write(&hosts, text).unwrap();
        (0..2)
            .map(|p| {
                let mut command = self.command(run);
                if let Some((victim, kill)) = kill
                    && victim == p
                {
                    kill.arm(&mut command);
                }
                command
                    .args(["-w", "2", "-n", "2", "-p", &p.to_string(), "--hostfile"])
                    .arg(&hosts)
                    .arg("--data-dir")
                    .arg(self.path(&format!("{run}-data-{p}")))
                    .arg("--checkpoint-every")
                    .arg((self.events / 40).to_string())
                    .args(["--snapshot-every", "8000"])
                    .spawn()
                    .unwrap()
            })
            .collect()
    }
}

fn crash_and_restart(events: u64, kills: usize, seed: u64) {
    let setup = Setup::new(events);
    assert!(
        setup
            .command("ref")
            .args(["-w", "1"])
            .status()
            .unwrap()
            .success()
    );
    let whole = setup.spawn_cluster("whole", None);
    let ok = whole.into_iter().all(|mut c| c.wait().unwrap().success());
    assert!(ok, "the uninterrupted cluster run failed");
    assert_eq!(
        sorted_outputs(&setup.path("whole")),
        sorted_outputs(&setup.path("ref"))
    );
    let mut rng = Rng::new(seed);
    let checkpoints: Vec<PathBuf> = (0..2)
        .map(|p| setup.path(&format!("out-data-{p}/checkpoint.json")))
        .collect();
    for round in 0..kills {
        // Every other round the other process is the one that dies.
        let victim = round % 2;
        let kill = Kill::pick(round / 2, &mut rng, 3);
        let mut children = setup.spawn_cluster("out", Some((victim, kill)));
        kill.land(&mut children[victim], &checkpoints);
        for child in children.iter_mut() {
            let _ = child.kill();
            child.wait().unwrap();
        }
    }
    let checkpointed = checkpoints.iter().filter(|path| path.exists()).count();
    assert_eq!(
        checkpointed, 2,
        "the killed runs never checkpointed: nothing was resumed"
    );
    let statuses: Vec<bool> = setup
        .spawn_cluster("out", None)
        .into_iter()
        .map(|mut child| child.wait().unwrap().success())
        .collect();
    assert_eq!(statuses, [true, true], "the last cluster run failed");
    let (expected, actual) = (
        sorted_outputs(&setup.path("ref")),
        sorted_outputs(&setup.path("out")),
    );
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>()
    );
    for (name, want) in &expected {
        assert!(!want.is_empty(), "{name} is empty");
        assert!(want == &actual[name], "{name} differs after {kills} kills");
    }
}

#[test]
fn a_killed_cluster_resumes_to_the_single_process_output() {
    if cfg!(debug_assertions) {
        crash_and_restart(30_000, 4, 0xc1a5_7e42);
    } else {
        crash_and_restart(200_000, 6, 0x0dd_ba11);
    }
}
