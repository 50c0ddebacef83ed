//! Writes made directly to a sync target, outside the sink: they are target changes.
//!
//! Each scenario runs a table sync twice from the same origin. Before the second run another
//! client edits the target: it changes k0's value, deletes k1 (Redis: `DEL`; PostgreSQL: the
//! row becomes a tombstone) and, in Redis, creates k9, a key the sink never wrote. The
//! second run then changes every key. Expected: `target-wins` keeps the three edits and
//! counts three conflicts; `source-wins` and `last-writer-wins` overwrite them and count the
//! same three; the keys nobody edited take the second run's values either way.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kvflow::change::Mutation;
use kvflow::sinks::OutputKind;
use kvflow::value::Value;

use super::common::*;
use super::sync_conflicts::sync_text;
use super::sync_postgres::{drop_table, postgres_state};

const POLICIES: [&str; 3] = ["target-wins", "source-wins", "last-writer-wins"];

/// `{"run":run,"i":i}` under `k<i>` for each key, at event time `ts`.
fn writes(run: u64, keys: &[usize], ts: u64) -> Vec<Mutation> {
    keys.iter()
        .map(|i| {
            let value = Value::parse_json(&format!(r#"{{"run":{run},"i":{i}}}"#)).expect("json");
            Mutation::put(format!("k{i}"), value, ts)
        })
        .collect()
}

/// A run's conflict count and its conflict log, by key.
fn run_sync(text: &str, input: Vec<Mutation>) -> (u64, BTreeMap<String, serde_json::Value>) {
    let (_, capture, sinks) = run_text(text, input, 2);
    let log = capture
        .sorted("s.conflicts", OutputKind::Rows)
        .iter()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).expect("conflict line");
            (line["key"].as_str().expect("key").to_string(), line)
        })
        .collect();
    (sinks.sync_stats("s").conflicts.load(Ordering::Relaxed), log)
}

fn value(run: u64, i: usize) -> serde_json::Value {
    serde_json::json!({"run": run, "i": i})
}

/// What the target holds after the second run: `edits` where the policy keeps them, the
/// second run's value of every key elsewhere.
fn expected(
    policy: &str,
    keys: &[usize],
    edits: &[(usize, Option<serde_json::Value>)],
) -> BTreeMap<String, serde_json::Value> {
    let mut state: BTreeMap<String, serde_json::Value> = keys
        .iter()
        .map(|i| (format!("k{i}"), value(2, *i)))
        .collect();
    if policy == "target-wins" {
        for (i, edit) in edits {
            match edit {
                Some(edit) => state.insert(format!("k{i}"), edit.clone()),
                None => state.remove(&format!("k{i}")),
            };
        }
    }
    state
}

/// Each edited key is one conflict, logged as an edited target with the policy's winner.
fn check_conflicts(
    policy: &str,
    (count, log): (u64, BTreeMap<String, serde_json::Value>),
    edits: &[(usize, Option<serde_json::Value>)],
) {
    let edited: Vec<String> = edits.iter().map(|(i, _)| format!("k{i}")).collect();
    assert_eq!(count, edits.len() as u64, "{policy}: one conflict per edit");
    assert_eq!(
        log.keys().cloned().collect::<Vec<_>>(),
        edited,
        "{policy}: the edited keys are the conflicts"
    );
    let winner = if policy == "target-wins" {
        "target"
    } else {
        "incoming"
    };
    for (i, edit) in edits {
        let line = &log[&format!("k{i}")];
        assert_eq!(line["target"]["edited"], true, "{policy}: k{i}");
        assert_eq!(line["winner"], winner, "{policy}: k{i}");
        let held = edit.clone().unwrap_or(serde_json::Value::Null);
        assert_eq!(line["target"]["value"], held, "{policy}: k{i}");
        assert_eq!(line["incoming"]["value"], value(2, *i), "{policy}: k{i}");
    }
}

fn redis_set(redis: &mut redis::Connection, key: &str, text: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(text)
        .query(redis)
        .expect("SET");
}

/// One policy's scenario on `target`: the first run writes `first` keys, `edit` edits the
/// target as `edits` say, the second run writes `keys`; `state` reads the target.
fn scenario(
    target: &str,
    policy: &str,
    (first, keys): (&[usize], &[usize]),
    edits: &[(usize, Option<serde_json::Value>)],
    edit: impl FnOnce(),
    state: impl FnOnce() -> BTreeMap<String, serde_json::Value>,
) {
    let text = sync_text(target, "local", policy);
    let (conflicts, _) = run_sync(&text, writes(1, first, 1000));
    assert_eq!(conflicts, 0, "{policy}: the first run meets no conflict");
    edit();
    let second = run_sync(&text, writes(2, keys, 2000));
    assert_eq!(state(), expected(policy, keys, edits), "{policy}");
    check_conflicts(policy, second, edits);
}

#[test]
fn redis_target_writes_are_target_changes() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let keys = [0, 1, 2, 3, 9];
    let edits = [
        (0, Some(serde_json::json!("edited"))),
        (1, None),
        (9, Some(serde_json::json!({"by": "hand"}))),
    ];
    for policy in POLICIES {
        let prefix = format!("kvflow-test:target-writes-{policy}:");
        redis_clear(&mut redis, &prefix);
        let target = format!(r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#);
        let mut editor = super::common::redis().expect("redis");
        let edit = || {
            redis_set(&mut editor, &format!("{prefix}k0"), r#""edited""#);
            let _: () = redis::cmd("DEL")
                .arg(format!("{prefix}k1"))
                .query(&mut editor)
                .expect("DEL");
            redis_set(&mut editor, &format!("{prefix}k9"), r#"{"by":"hand"}"#);
        };
        let state = || redis_state(&mut redis, &prefix);
        scenario(&target, policy, (&[0, 1, 2, 3], &keys), &edits, edit, state);
    }
}

#[test]
fn redis_a_replayed_batch_is_no_target_change() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:target-writes-replay:";
    redis_clear(&mut redis, prefix);
    let target = format!(r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#);
    let text = sync_text(&target, "local", "target-wins");
    let mut input = writes(1, &[0, 1, 2], 1000);
    input.push(Mutation::delete("k1", 1500));
    for run in 0..2 {
        let (conflicts, log) = run_sync(&text, input.clone());
        assert_eq!((conflicts, log.len()), (0, 0), "run {run}");
    }
    let state: BTreeMap<String, serde_json::Value> = [0, 2]
        .iter()
        .map(|i| (format!("k{i}"), value(1, *i)))
        .collect();
    assert_eq!(redis_state(&mut redis, prefix), state);
}

#[test]
fn postgres_target_writes_are_target_changes() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    let keys = [0, 1, 2, 3];
    let edits = [(0, Some(serde_json::json!("edited"))), (1, None)];
    for policy in POLICIES {
        let table = format!("kvflow_test_target_writes_{}", policy.replace('-', "_"));
        drop_table(&mut pg, &table);
        let target =
            format!(r#"{{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}"#);
        let mut editor = postgres().expect("postgres");
        let edit = || {
            editor
                .batch_execute(&format!(
                    "UPDATE {table}_live SET value = '\"edited\"' WHERE key = 'k0'; \
                     UPDATE {table} SET deleted = true, value = NULL WHERE key = 'k1'"
                ))
                .expect("UPDATE");
        };
        let state = || postgres_state(&mut pg, &table);
        scenario(&target, policy, (&keys, &keys), &edits, edit, state);
    }
}
