//! Conflict policies against real targets: another origin wrote some keys first.
//!
//! "other" writes k0..k9, even keys at ts 5000 and odd keys at ts 1000; then "local" writes
//! k0..k19 once each at ts 3000. Expected: last-writer-wins keeps other's even keys;
//! source-wins writes every key; target-wins keeps all of other's keys. Ten conflicts each.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kvflow::change::Mutation;
use kvflow::sinks::OutputKind;
use kvflow::value::Value;

use super::common::*;
use super::sync_postgres::{drop_table, postgres_state};

fn writes(who: &str, keys: std::ops::Range<usize>, ts: impl Fn(usize) -> u64) -> Vec<Mutation> {
    keys.map(|i| {
        let value = Value::parse_json(&format!(r#"{{"by":"{who}","i":{i}}}"#)).expect("json");
        Mutation::put(format!("k{i}"), value, ts(i))
    })
    .collect()
}

fn other_ts(i: usize) -> u64 {
    if i.is_multiple_of(2) { 5000 } else { 1000 }
}

/// Who should hold key `i` after both runs under `policy`.
fn expected(policy: &str) -> BTreeMap<String, serde_json::Value> {
    (0..20)
        .map(|i| {
            let other_wins = i < 10
                && match policy {
                    "last-writer-wins" => other_ts(i) > 3000,
                    "target-wins" => true,
                    _ => false,
                };
            let by = if other_wins { "other" } else { "local" };
            (format!("k{i}"), serde_json::json!({"by": by, "i": i}))
        })
        .collect()
}

pub fn sync_text(target: &str, origin: &str, policy: &str) -> String {
    format!(
        r#"
[[sync]]
name = "s"
keys = ["^k"]
target = {target}
origin = "{origin}"
conflict = "{policy}"
conflict_log = true
"#
    )
}

/// Runs "other" then "local"; returns the local run's conflict count and log.
fn run_policy(target: &str, policy: &str) -> (u64, Vec<serde_json::Value>) {
    run_text(
        &sync_text(target, "other", policy),
        writes("other", 0..10, other_ts),
        1,
    );
    let (_, capture, sinks) = run_text(
        &sync_text(target, "local", policy),
        writes("local", 0..20, |_| 3000),
        2,
    );
    let log = capture
        .sorted("s.conflicts", OutputKind::Rows)
        .iter()
        .map(|l| serde_json::from_str(l).expect("conflict line"))
        .collect();
    (sinks.sync_stats("s").conflicts.load(Ordering::Relaxed), log)
}

fn check_log(policy: &str, log: &[serde_json::Value]) {
    assert_eq!(
        log.len(),
        10,
        "{policy}: one conflict per key written by both"
    );
    for line in log {
        let i = line["target"]["value"]["i"].as_i64().expect("i") as usize;
        assert_eq!(line["target"]["origin"], "other");
        assert_eq!(line["target"]["ts"], other_ts(i));
        assert_eq!(line["incoming"]["origin"], "local");
        assert_eq!(line["incoming"]["value"]["by"], "local");
        let winner = expected(policy)[&format!("k{i}")]["by"].clone();
        let logged = if line["winner"] == "incoming" {
            "local"
        } else {
            "other"
        };
        assert_eq!(winner, logged, "{policy}: winner of k{i}");
    }
}

#[test]
fn redis_applies_each_conflict_policy() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    for policy in ["last-writer-wins", "source-wins", "target-wins"] {
        let prefix = format!("kvflow-test:conflict-{policy}:");
        redis_clear(&mut redis, &prefix);
        let target = format!(r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#);
        let (conflicts, log) = run_policy(&target, policy);
        assert_eq!(
            redis_state(&mut redis, &prefix),
            expected(policy),
            "{policy}"
        );
        assert_eq!(conflicts, 10, "{policy}");
        check_log(policy, &log);
    }
}

#[test]
fn postgres_applies_each_conflict_policy() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    for policy in ["last-writer-wins", "source-wins", "target-wins"] {
        let table = format!("kvflow_test_conflict_{}", policy.replace('-', "_"));
        drop_table(&mut pg, &table);
        let target =
            format!(r#"{{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}"#);
        let (conflicts, log) = run_policy(&target, policy);
        assert_eq!(
            postgres_state(&mut pg, &table),
            expected(policy),
            "{policy}"
        );
        assert_eq!(conflicts, 10, "{policy}");
        check_log(policy, &log);
    }
}
