//! Crash test of the sinks: `kvflow run --data-dir` with an alert delivered to a log and two
//! Redis sync sinks (the live table, and a window pipeline's changelog) is killed at seeded
//! checkpoints (aborted inside the write, or SIGKILLed just after it) and restarted each
//! time; every kill must land. The alert log must equal an
//! uninterrupted run's byte for byte (no alert lost or repeated), and the Redis keys it
//! synced — values and last-writer-wins versions — must equal what the uninterrupted run
//! synced under its own prefix.
//!
//! Syncs to the tests' own `redis-server` (see `support::services`); skipped when it is not
//! installed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::crash::{Kill, assert_same_files};
use crate::support::services::redis_server;
use crate::support::{Rng, files, kvflow};

fn dataflow(events: u64, redis_url: &str, prefix: &str) -> String {
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
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}users:" }}
conflict = "last-writer-wins"
origin = "shop"

[[sync]]
name = "totals"
from = "order_totals"
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}totals:" }}
"#
    )
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
            .arg("--batch-events")
            .arg((self.events / 80).to_string())
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
    let Some(redis) = redis_server() else { return };
    let mut c = redis.connect();
    let (ref_prefix, out_prefix) = ("kvflow-crash-sinks:ref:", "kvflow-crash-sinks:out:");
    clear(&mut c, ref_prefix);
    clear(&mut c, out_prefix);
    let setup = Setup {
        dir: tempfile::tempdir().unwrap(),
        events,
    };
    let url = redis.url();
    std::fs::write(setup.path("ref.toml"), dataflow(events, &url, ref_prefix)).unwrap();
    std::fs::write(setup.path("flow.toml"), dataflow(events, &url, out_prefix)).unwrap();
    assert!(
        setup
            .run("ref.toml", "ref", false)
            .status()
            .unwrap()
            .success()
    );
    let mut rng = Rng::new(seed);
    let checkpoint = [setup.path("data/checkpoint.json")];
    for round in 0..kills {
        let kill = Kill::pick(round, &mut rng, 3);
        let mut child = kill
            .arm(&mut setup.run("flow.toml", "out", true))
            .spawn()
            .unwrap();
        kill.land(&mut child, &checkpoint);
    }
    assert!(
        setup
            .run("flow.toml", "out", true)
            .status()
            .unwrap()
            .success()
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
        &format!("after {kills} kills"),
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
        "the synced Redis keys differ after {kills} kills: {} vs {} keys; {differ:?}",
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
