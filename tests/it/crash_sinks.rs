//! Crash test of the sinks: `kvflow run --data-dir` with an alert delivered to a log and two
//! Redis sync sinks (the live table, and a window pipeline's changelog) is killed with SIGKILL
//! at seeded random moments and restarted each time. The alert log must equal an
//! uninterrupted run's byte for byte (no alert lost or repeated), and the Redis keys it
//! synced — values and last-writer-wins versions — must equal what the uninterrupted run
//! synced under its own prefix.
//!
//! Needs the Redis of this machine (127.0.0.1:6379); fails naming it when unreachable, unless
//! `KVFLOW_SKIP_SERVICES=1`.

mod crash_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash_support::{Rng, assert_same_files, files, kvflow, wait_for_checkpoints};

const REDIS_URL: &str = "redis://127.0.0.1:6379/";

fn dataflow(events: u64, prefix: &str) -> String {
    format!(
        r#"
[input]
generate = "users-orders"
events = {events}
seed = 11
rate_per_sec = 2000

[sources.new_orders]
view = "events"
kinds = ["insert"]
key_regex = "^order_"

[[pipelines]]
name = "order_totals"
from = "new_orders"

[[pipelines.steps]]
window = {{ kind = "tumbling", size = 5000 }}
group_by = {{ user = "value.user_id" }}
aggregates = {{ orders = "count(*)", total = "sum(value.amount)" }}

[[alerts]]
name = "big_spender"
from = "order_totals"
condition = "total > 800"
message = "{{user}} ordered {{total}} in {{orders}} orders"
severity = "warning"
cooldown_ms = 20000
deliver = [{{ kind = "log" }}]

[[sync]]
name = "users"
keys = ["^user_"]
target = {{ kind = "redis", url = "{REDIS_URL}", prefix = "{prefix}users:" }}
conflict = "last-writer-wins"
origin = "shop"

[[sync]]
name = "totals"
from = "order_totals"
target = {{ kind = "redis", url = "{REDIS_URL}", prefix = "{prefix}totals:" }}
"#
    )
}

fn redis() -> Option<redis::Connection> {
    match redis::Client::open(REDIS_URL).and_then(|c| c.get_connection()) {
        Ok(c) => Some(c),
        Err(e) if std::env::var("KVFLOW_SKIP_SERVICES").is_ok_and(|v| v == "1") => {
            eprintln!("skipped: Redis at 127.0.0.1:6379 is not reachable ({e})");
            None
        }
        Err(e) => panic!(
            "Redis at 127.0.0.1:6379 is not reachable ({e}): start it (.ci/run does) or set \
             KVFLOW_SKIP_SERVICES=1 to skip the tests that need it"
        ),
    }
}

/// Every key under `prefix` (without it): a string's value, or a hash's sorted fields (their
/// names without the prefix too).
fn redis_dump(c: &mut redis::Connection, prefix: &str) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(c)
        .unwrap();
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(c).unwrap();
            let value = match kind.as_str() {
                "hash" => {
                    let fields: BTreeMap<String, String> =
                        redis::cmd("HGETALL").arg(&key).query(c).unwrap();
                    // Fields name the prefixed keys they version.
                    let fields: BTreeMap<&str, String> = fields
                        .iter()
                        .map(|(f, v)| (f.strip_prefix(prefix).unwrap_or(f), v.clone()))
                        .collect();
                    format!("{fields:?}")
                }
                _ => redis::cmd("GET").arg(&key).query(c).unwrap(),
            };
            (key[prefix.len()..].to_string(), value)
        })
        .collect()
}

fn clear(c: &mut redis::Connection, prefix: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(c)
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query(c).unwrap();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    events: u64,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, flow: &str, output: &str, durable: bool) -> Command {
        let mut command = kvflow();
        command
            .arg("run")
            .arg(self.path(flow))
            .arg("--output")
            .arg(self.path(output))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if durable {
            // NB: about 40 checkpoints a run, so that each killed run ends a few in.
            command
                .arg("--data-dir")
                .arg(self.path("data"))
                .arg("--checkpoint-every")
                .arg((self.events / 40).to_string())
                .args(["--snapshot-every", "20000"]);
        }
        command
    }
}

fn crash_and_restart(events: u64, kills: usize, seed: u64) {
    let Some(mut c) = redis() else { return };
    let (ref_prefix, out_prefix) = ("kvflow-crash-sinks:ref:", "kvflow-crash-sinks:out:");
    clear(&mut c, ref_prefix);
    clear(&mut c, out_prefix);
    let setup = Setup {
        dir: tempfile::tempdir().unwrap(),
        events,
    };
    std::fs::write(setup.path("ref.toml"), dataflow(events, ref_prefix)).unwrap();
    std::fs::write(setup.path("flow.toml"), dataflow(events, out_prefix)).unwrap();
    let started = Instant::now();
    assert!(
        setup
            .run("ref.toml", "ref", false)
            .status()
            .unwrap()
            .success()
    );
    let full_ms = started.elapsed().as_millis() as u64;
    let mut rng = Rng(seed);
    let mut killed = 0;
    for _ in 0..kills {
        let mut child = setup.run("flow.toml", "out", true).spawn().unwrap();
        let checkpoint = [setup.path("data/checkpoint.json")];
        wait_for_checkpoints(
            &checkpoint,
            1 + rng.below(3),
            Duration::from_millis(2 * full_ms),
        );
        std::thread::sleep(Duration::from_millis(rng.below(20)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        setup
            .run("flow.toml", "out", true)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        killed >= kills / 2,
        "only {killed} of {kills} runs were killed"
    );
    let expected = files(&setup.path("ref"));
    assert!(
        expected
            .iter()
            .any(|(name, bytes)| name.contains("big_spender") && !bytes.is_empty()),
        "no alert fired: {:?}",
        expected.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_same_files(
        &setup.path("ref"),
        &setup.path("out"),
        &format!("after {killed} kills"),
    );
    let (want, got) = (
        redis_dump(&mut c, ref_prefix),
        redis_dump(&mut c, out_prefix),
    );
    assert!(want.len() > 100, "only {} keys synced", want.len());
    let differ: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone(), got.get(k).cloned()))
        .take(3)
        .collect();
    assert!(
        want == got,
        "the synced Redis keys differ after {killed} kills: {} vs {} keys; {differ:?}",
        want.len(),
        got.len()
    );
    clear(&mut c, ref_prefix);
    clear(&mut c, out_prefix);
}

#[test]
fn killed_runs_deliver_every_alert_and_synced_key_exactly_once() {
    if cfg!(debug_assertions) {
        crash_and_restart(30_000, 4, 0x0a1e_27c0);
    } else {
        crash_and_restart(150_000, 6, 0x5eed_5157);
    }
}
