//! `SELECT DISTINCT`, `GROUP BY` without aggregates, `UNION ALL` and `UNION` against brute-force
//! oracles, over a table whose keys are overwritten and deleted (final state and changelog)
//! and over events; each SQL form beside its TOML twin (`distinct = true`, `union = [...]`).

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;

use super::harness::{diff, op_line, run_sql, run_toml, sorted};
use crate::support::Rng;

/// Puts and deletes of 30 keys, each value `{g, tag}` (few distinct values), one event time
/// each; keys `item_*` and `other_*`.
fn input() -> Vec<Mutation> {
    let mut rng = Rng::new(23);
    let mut live: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in 0..300u64 {
        let ts = 1_000 + i * 10;
        if !live.is_empty() && rng.chance(30) {
            let key = live.swap_remove(rng.below(live.len() as u64) as usize);
            out.push(Mutation::delete(key, ts));
            continue;
        }
        let prefix = if rng.chance(50) { "item" } else { "other" };
        let key = format!("{prefix}_{:02}", rng.below(15));
        if !live.contains(&key) {
            live.push(key.clone());
        }
        let value = json!({"g": rng.range(0, 3), "tag": format!("t{}", rng.below(3))});
        out.push(Mutation::put(key, Value::from_json(value), ts));
    }
    out
}

const SQL: &str = "
CREATE SOURCE items FROM table WITH (key_regex = '^item_');
CREATE SOURCE others FROM table WITH (key_regex = '^other_');
INSERT INTO groups WITH (final_state = true)
SELECT DISTINCT CAST(value.g AS INT) AS g, value.tag AS tag FROM items;
INSERT INTO grouped WITH (final_state = true)
SELECT CAST(value.g AS INT) AS g, value.tag AS tag FROM items
GROUP BY CAST(value.g AS INT), value.tag;
INSERT INTO both WITH (final_state = true)
SELECT CAST(value.g AS INT) AS g, value.tag AS tag FROM items
UNION ALL
SELECT CAST(value.g AS INT) AS g, value.tag AS tag FROM others WHERE CAST(value.g AS INT) > 0;
INSERT INTO either WITH (final_state = true)
SELECT CAST(value.g AS INT) AS g, value.tag AS tag FROM items
UNION
SELECT CAST(value.g AS INT) AS g, value.tag AS tag FROM others;";

const TOML: &str = r#"
[sources.items]
view = "table"
key_regex = "^item_"
[sources.others]
view = "table"
key_regex = "^other_"

[[pipelines]]
name = "groups"
from = "items"
final_state = true
steps = [{ map = { g = "CAST(value.g AS INT)", tag = "value.tag" } }, { distinct = true }]

[[pipelines]]
name = "grouped"
from = "items"
final_state = true
steps = [{ group_by = { g = "CAST(value.g AS INT)", tag = "value.tag" }, aggregates = {} }]

[[pipelines]]
name = "both_union1"
from = "others"
internal = true
steps = [
  { filter = "CAST(value.g AS INT) > 0" },
  { map = { g = "CAST(value.g AS INT)", tag = "value.tag" } },
]

[[pipelines]]
name = "both"
from = "items"
final_state = true
steps = [{ map = { g = "CAST(value.g AS INT)", tag = "value.tag" } }, { union = ["both_union1"] }]

[[pipelines]]
name = "either_union1"
from = "others"
internal = true
steps = [{ map = { g = "CAST(value.g AS INT)", tag = "value.tag" } }]

[[pipelines]]
name = "either"
from = "items"
final_state = true
steps = [
  { map = { g = "CAST(value.g AS INT)", tag = "value.tag" } },
  { union = ["either_union1"] },
  { distinct = true },
]
"#;

/// The live `(g, tag)` rows of keys with `prefix` (and `g > min_g`).
fn rows(state: &BTreeMap<String, (i64, String)>, prefix: &str, min_g: i64) -> Vec<Json> {
    state
        .iter()
        .filter(|(k, (g, _))| k.starts_with(prefix) && *g > min_g)
        .map(|(_, (g, tag))| json!({"g": g, "tag": tag}))
        .collect()
}

/// Per output, its final state and its changelog, applying the mutations one by one.
fn oracle(input: &[Mutation]) -> BTreeMap<&'static str, (Vec<Json>, Vec<Json>)> {
    let mut state: BTreeMap<String, (i64, String)> = BTreeMap::new();
    let mut out: BTreeMap<&str, (Vec<Json>, Vec<Json>)> = BTreeMap::new();
    for m in input {
        if m.value.is_null() {
            state.remove(&*m.key);
        } else {
            let g = m.value.get("g").as_i64().expect("g");
            let tag = m.value.get("tag").as_str().expect("tag").to_string();
            state.insert(m.key.to_string(), (g, tag));
        }
        let mut distinct = rows(&state, "item_", i64::MIN);
        distinct.sort_by_key(|r| r.to_string());
        distinct.dedup();
        let mut both = rows(&state, "item_", i64::MIN);
        both.extend(rows(&state, "other_", 0));
        let mut either = rows(&state, "item_", i64::MIN);
        either.extend(rows(&state, "other_", i64::MIN));
        either.sort_by_key(|r| r.to_string());
        either.dedup();
        for (name, after) in [
            ("groups", distinct.clone()),
            ("grouped", distinct),
            ("both", both),
            ("either", either),
        ] {
            let (before, log) = out.entry(name).or_default();
            diff(before, &after, log);
            *before = after;
        }
    }
    out.into_iter()
        .map(|(name, (state, log))| (name, (sorted(state), sorted(log))))
        .collect()
}

#[test]
fn distinct_group_by_union_all_and_union_follow_a_changing_table() {
    let input = input();
    let expected = oracle(&input);
    let sql = run_sql(SQL, &input, 1, true);
    let toml = run_toml(TOML, &input, 1, true);
    for (name, (state, log)) in &expected {
        assert!(
            log.iter().any(|l| l["op"] == "delete"),
            "{name}: the input retracts"
        );
        assert_eq!(&sql.final_state(name), state, "{name}: final state");
        assert_eq!(&sql.rows(name), log, "{name}: changelog");
        assert_eq!(sql.lines(name), toml.lines(name), "{name}: SQL and TOML");
    }
    let four = run_sql(SQL, &input, 4, false);
    for (name, (state, _)) in &expected {
        assert_eq!(&four.final_state(name), state, "{name} with 4 workers");
    }
}

#[test]
fn union_all_of_event_streams_keeps_every_row() {
    let sql = "
        CREATE SOURCE items FROM events WITH (key_regex = '^item_');
        CREATE SOURCE others FROM events WITH (key_regex = '^other_', kinds = 'insert');
        INSERT INTO all_rows
        SELECT key, ts FROM items
        UNION ALL SELECT key, ts FROM others
        UNION ALL SELECT key, ts FROM items WHERE kind = 'delete';";
    let input = input();
    let mut seen = std::collections::BTreeSet::new();
    let mut expected = Vec::new();
    for m in &input {
        let row = json!({"key": &*m.key, "ts": m.ts});
        let insert = seen.insert(m.key.to_string());
        if m.value.is_null() {
            seen.remove(&*m.key);
        }
        if m.key.starts_with("item_") {
            expected.push(row.clone());
            if m.value.is_null() {
                expected.push(row);
            }
        } else if insert {
            expected.push(row);
        }
    }
    // NB: the later SELECTs are pipelines the first one reads, so the union is written as a
    // changelog of rows (as any pipeline reading another): here upserts only.
    let expected = sorted(expected.iter().map(|r| op_line("upsert", r)));
    let written = run_sql(sql, &input, 2, false);
    assert_eq!(
        written.rows("all_rows"),
        expected,
        "every row, never retracted"
    );
}
