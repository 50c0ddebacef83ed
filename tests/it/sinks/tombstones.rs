//! A delete leaves a tombstone with its version, in Redis and in PostgreSQL: under
//! last-writer-wins a late write from another origin that is older than the delete does
//! not resurrect the key; a newer one does.
//!
//! Node "a" writes k0 and k1 at ts 5, then writes k0 at ts 15 and deletes it at ts 20.
//! Node "b" then writes k0 and k1 at ts 10: k0 stays deleted (the tombstone wins the
//! conflict), k1 takes b's value. Last, "b" writes k0 at ts 30: the key is back.
//!
//! With `tombstone_retention_ms`, tombstones older than the newest delivered change by the
//! retention are purged, newer ones and live keys stay.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kvflow::change::Mutation;
use kvflow::sinks::OutputKind;
use kvflow::value::Value;

use super::common::*;
use super::sync_postgres::{drop_table, postgres_state};

fn put(who: &str, key: &str, ts: u64) -> Mutation {
    let value = Value::parse_json(&format!(r#"{{"by":"{who}","ts":{ts}}}"#)).expect("json");
    Mutation::put(key, value, ts)
}

fn sync_text(target: &str, origin: &str) -> String {
    format!(
        r#"
[[sync]]
name = "s"
keys = ["^k"]
target = {target}
origin = "{origin}"
conflict = "last-writer-wins"
conflict_log = true
"#
    )
}

fn state(entries: &[(&str, &str, u64)]) -> BTreeMap<String, serde_json::Value> {
    entries
        .iter()
        .map(|(key, by, ts)| (key.to_string(), serde_json::json!({"by": by, "ts": ts})))
        .collect()
}

/// Runs the scenario against `target`, checking the live state after each step with
/// `live` and the tombstone of k0 after the delete with `tombstone` (its ts and origin).
fn scenario(
    target: &str,
    mut live: impl FnMut() -> BTreeMap<String, serde_json::Value>,
    mut tombstone: impl FnMut() -> Option<(u64, String)>,
) {
    run_text(
        &sync_text(target, "a"),
        vec![put("a", "k0", 5), put("a", "k1", 5)],
        1,
    );
    assert_eq!(live(), state(&[("k0", "a", 5), ("k1", "a", 5)]));
    run_text(
        &sync_text(target, "a"),
        vec![put("a", "k0", 15), Mutation::delete("k0", 20)],
        1,
    );
    assert_eq!(live(), state(&[("k1", "a", 5)]));
    assert_eq!(tombstone(), Some((20, "a".to_string())), "k0's tombstone");

    let (_, capture, sinks) = run_text(
        &sync_text(target, "b"),
        vec![put("b", "k0", 10), put("b", "k1", 10)],
        1,
    );
    assert_eq!(live(), state(&[("k1", "b", 10)]), "k0 not resurrected");
    assert_eq!(sinks.sync_stats("s").conflicts.load(Ordering::Relaxed), 2);
    let log: BTreeMap<String, serde_json::Value> = capture
        .sorted("s.conflicts", OutputKind::Rows)
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("conflict line"))
        .map(|c| (c["key"].as_str().expect("key").to_string(), c))
        .collect();
    assert_eq!(log["k0"]["winner"], "target");
    assert_eq!(log["k0"]["target"]["value"], serde_json::Value::Null);
    assert_eq!(log["k0"]["target"]["ts"], 20);
    assert_eq!(log["k1"]["winner"], "incoming");
    assert_eq!(log["k1"]["target"]["value"]["by"], "a");

    run_text(&sync_text(target, "b"), vec![put("b", "k0", 30)], 1);
    assert_eq!(live(), state(&[("k0", "b", 30), ("k1", "b", 10)]));
}

#[test]
fn postgres_deletes_keep_a_tombstone_that_older_writes_do_not_resurrect() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    let table = "kvflow_test_tombstones";
    drop_table(&mut pg, table);
    let target = format!(r#"{{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}"#);
    let mut reader = postgres().expect("postgres");
    let mut tombstones = postgres().expect("postgres");
    scenario(
        &target,
        || postgres_state(&mut reader, table),
        || {
            let query = format!(
                "SELECT ts, origin FROM {table} WHERE key = 'k0' AND deleted AND value IS NULL"
            );
            let rows = tombstones.query(&query, &[]).expect("SELECT");
            rows.first()
                .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
        },
    );
    // The table holds the tombstone's row only while the key is deleted: now all are live.
    let rows = pg
        .query(&format!("SELECT count(*) FROM {table}"), &[])
        .expect("SELECT");
    assert_eq!(rows[0].get::<_, i64>(0), 2);
}

#[test]
fn redis_deletes_keep_a_tombstone_that_older_writes_do_not_resurrect() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:tombstones:";
    redis_clear(&mut redis, prefix);
    let target = format!(r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#);
    let mut reader = super::common::redis().expect("redis");
    scenario(
        &target,
        || redis_state(&mut reader, prefix),
        || {
            let mut c = super::common::redis().expect("redis");
            let exists: bool = redis::cmd("EXISTS")
                .arg(format!("{prefix}k0"))
                .query(&mut c)
                .expect("EXISTS");
            let version: Option<String> = redis::cmd("HGET")
                .arg(format!("{prefix}__kvflow_versions"))
                .arg(format!("{prefix}k0"))
                .query(&mut c)
                .expect("HGET");
            let version = version?;
            let (ts, origin) = kvflow::sinks::sync::targets::redis::parse_version(&version);
            (!exists).then(|| (ts, origin.to_string()))
        },
    );
}

/// k0 and k1 are deleted at ts 200, k2 at ts 4500, k3 and k9 stay live; the newest change
/// is at ts 5000, so a retention of 1000 purges the tombstones older than 4000: k0's and
/// k1's. Returns the purge count the sink reported.
fn purge_scenario(target: &str) -> u64 {
    let text = format!("{}tombstone_retention_ms = 1000\n", sync_text(target, "a"));
    let mut input: Vec<Mutation> = ["k0", "k1", "k2", "k3"]
        .iter()
        .map(|k| put("a", k, 100))
        .collect();
    input.extend([
        Mutation::delete("k0", 200),
        Mutation::delete("k1", 200),
        Mutation::delete("k2", 4500),
        put("a", "k9", 5000),
    ]);
    let (_, _, sinks) = run_text(&text, input, 1);
    sinks
        .sync_stats("s")
        .tombstones_purged
        .load(Ordering::Relaxed)
}

#[test]
fn postgres_tombstones_older_than_the_retention_are_purged() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    let table = "kvflow_test_tombstone_purge";
    drop_table(&mut pg, table);
    let target = format!(r#"{{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}"#);
    assert_eq!(purge_scenario(&target), 2);
    let rows: BTreeMap<String, bool> = pg
        .query(&format!("SELECT key, deleted FROM {table}"), &[])
        .expect("SELECT")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let expected: BTreeMap<String, bool> = [("k2", true), ("k3", false), ("k9", false)]
        .iter()
        .map(|(k, d)| (k.to_string(), *d))
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn redis_tombstones_older_than_the_retention_are_purged() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:tombstone-purge:";
    redis_clear(&mut redis, prefix);
    let target = format!(r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#);
    assert_eq!(purge_scenario(&target), 2);
    let versions: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{prefix}__kvflow_versions"))
        .query(&mut redis)
        .expect("HGETALL");
    let keys: Vec<String> = versions
        .keys()
        .map(|k| k.trim_start_matches(prefix).to_string())
        .collect();
    assert_eq!(keys, ["k2", "k3", "k9"]);
    assert_eq!(
        redis_state(&mut redis, prefix).keys().collect::<Vec<_>>(),
        ["k3", "k9"]
    );
}
