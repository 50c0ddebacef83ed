//! Retention (`--retain-bytes`, `--retain-age`): a durable run cuts its logs, a run killed
//! after a cut restarts from the snapshots at the floors and still writes exactly what an
//! uninterrupted run writes; `watch` gives every event after the floors (checked against a
//! brute-force oracle) and refuses a token below one; a dataflow that needs every event keeps
//! the whole log and says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kvflow::source::jsonl::JsonlReader;
use kvflow::store::data_dir::shard_dir;
use kvflow::store::owner_of;
use kvflow::store::stream::read_floor;
use kvflow::store::wal::segment::list_segments;

use crate::support::crash::assert_same_files;
use crate::support::{Workdir, change_events as oracle, kvflow, sorted_outputs};

/// A table pipeline, a tumbling window and a row-local pipeline over the events: all of
/// them can restart from a snapshot once the windows holding the cut events closed.
const BOUNDED: &str = r#"
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
window = { kind = "tumbling", size = 200 }
group_by = ["prefix"]
aggregates = { count = "count(*)", sum = "sum(v)" }

[[pipelines]]
name = "big_values"
from = "events"

[[pipelines.steps]]
filter = "CAST(value.v AS INT) > 990"

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

/// A count of every event ever: a restart needs the whole log.
const UNBOUNDED: &str = r#"
[sources.events]
view = "events"

[[pipelines]]
name = "all_events"
from = "events"

[[pipelines.steps]]
group_by = ["kind"]
aggregates = { n = "count(*)" }
"#;

fn output(command: &mut Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.output().unwrap()
}

struct Setup {
    work: Workdir,
}

impl Setup {
    fn new(dataflow: &str, events: u64) -> Setup {
        let events = events.to_string();
        let generator = [
            "zipf",
            "--keys",
            "2000",
            "--seed",
            "3",
            "--disorder-ms",
            "150",
        ];
        let work = Workdir::new(dataflow, &[&generator[..], &["--events", &events]].concat());
        Setup { work }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path(name)
    }

    fn run(&self, out: &str, workers: usize, durable: bool) -> Command {
        let mut command = self.work.run();
        command.arg("--output").arg(self.path(out)).args([
            "-w",
            &workers.to_string(),
            "--batch-events",
            "2000",
        ]);
        if durable {
            command.arg("--data-dir").arg(self.path("data")).args([
                "--checkpoint-every",
                "4000",
                "--snapshot-every",
                "1500",
                "--segment-bytes",
                "32KiB",
                "--retain-bytes",
                "96KiB",
            ]);
        }
        command
    }

    fn shards(&self) -> Vec<PathBuf> {
        let data = self.path("data");
        (0..)
            .map(|k| shard_dir(&data, k))
            .take_while(|d| d.is_dir())
            .collect()
    }
}

fn first_logged_seq(shard: &Path) -> u64 {
    list_segments(shard)
        .unwrap()
        .first()
        .map_or(0, |(first, _)| *first)
}

/// Runs to the n-th checkpoint and aborts there, then finishes; the output must equal the
/// reference run's, the logs must have been cut before the restart, and cut further after.
fn cut_crash_and_finish(workers: usize) -> Setup {
    let setup = Setup::new(BOUNDED, 60_000);
    assert!(
        output(&mut setup.run("ref", workers, false))
            .status
            .success()
    );
    let crashed = output(
        setup
            .run("out", workers, true)
            .env("KVFLOW_CRASH_AT", "checkpoint:9"),
    );
    assert!(!crashed.status.success(), "the run was not aborted");
    let floors: Vec<Option<u64>> = setup
        .shards()
        .iter()
        .map(|d| read_floor(d).unwrap())
        .collect();
    assert!(
        floors.iter().all(Option::is_some),
        "no cut before the crash: {floors:?}"
    );
    for shard in setup.shards() {
        assert!(
            first_logged_seq(&shard) > 0,
            "{} was not cut",
            shard.display()
        );
    }
    let finished = output(&mut setup.run("out", workers, true));
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    for (shard, before) in setup.shards().iter().zip(floors) {
        let after = read_floor(shard).unwrap();
        assert!(
            after > before,
            "{}: floor {before:?} then {after:?}",
            shard.display()
        );
        assert!(first_logged_seq(shard) > before.unwrap_or(0));
    }
    setup
}

#[test]
fn a_restart_past_the_retention_floor_writes_the_uninterrupted_output() {
    let setup = cut_crash_and_finish(1);
    assert_same_files(
        &setup.path("ref"),
        &setup.path("out"),
        "from the uninterrupted run",
    );
}

#[test]
fn two_workers_restart_past_their_floors_to_the_same_lines() {
    let setup = cut_crash_and_finish(2);
    assert_eq!(
        sorted_outputs(&setup.path("out")),
        sorted_outputs(&setup.path("ref"))
    );
}

fn watch(data: &Path, extra: &[&str]) -> Output {
    output(
        kvflow()
            .arg("watch")
            .arg("--data-dir")
            .arg(data)
            .args(extra),
    )
}

#[test]
fn watch_after_a_cut_gives_every_event_past_the_floors_and_refuses_older_tokens() {
    let setup = Setup::new(BOUNDED, 40_000);
    assert!(output(&mut setup.run("out", 2, true)).status.success());
    let floors: Vec<u64> = setup
        .shards()
        .iter()
        .map(|d| read_floor(d).unwrap().expect("a floor"))
        .collect();
    let expected: Vec<(u64, String, String)> = oracle(&setup.path("in.jsonl"))
        .into_iter()
        .filter(|(seq, _, key)| *seq > floors[owner_of(key, floors.len())])
        .collect();
    let watched = watch(&setup.path("data"), &[]);
    assert!(
        watched.status.success(),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let events: Vec<(u64, String, String)> = String::from_utf8(watched.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |f: &str| v[f].as_str().unwrap().to_string();
            (v["seq"].as_u64().unwrap(), text("kind"), text("key"))
        })
        .collect();
    assert_eq!(events, expected);
    let old = format!("0:{}", floors[0] - 1);
    let refused = watch(&setup.path("data"), &["--from", &old]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("older than the retained log"), "{message}");
}

#[test]
fn a_dataflow_that_needs_every_event_keeps_the_whole_log_and_says_why() {
    let setup = Setup::new(UNBOUNDED, 20_000);
    let run = output(&mut setup.run("out", 1, true));
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("retention keeps the whole log: pipeline `all_events` aggregates"),
        "{stderr}"
    );
    let input = std::io::BufReader::new(std::fs::File::open(setup.path("in.jsonl")).unwrap());
    let first_input_seq = JsonlReader::new(input).next().unwrap().unwrap().0;
    for shard in setup.shards() {
        assert_eq!(read_floor(&shard).unwrap(), None);
        assert_eq!(first_logged_seq(&shard), first_input_seq);
        assert!(list_segments(&shard).unwrap().len() > 3);
    }
}
