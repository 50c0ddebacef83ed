//! A store shard keeps maps and lists packed and decodes a replaced value only for a reader
//! of `old` (`store::shard`). Whatever it defers, the events view's `old`, the table view's
//! retractions and a route handler's lines must show the values as written. The oracle
//! replays the input into a map of JSON values, independent of the store's code.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::{Workdir, sorted_lines};

const FLOW: &str = r#"
[sources.events]
view = "events"

[sources.live]
view = "table"

# Whole rows: every field, `old` included.
[[pipelines]]
name = "changes"
from = "events"
[[pipelines.steps]]
filter = "seq >= 0"

# A table read through a map: updates and deletes retract the replaced row.
[[pipelines]]
name = "amounts"
from = "live"
final_state = true
[[pipelines.steps]]
filter = "key LIKE 'order_%'"
[[pipelines.steps]]
map = { key = "key", status = "value.status", amount = "value.amount" }
"#;

/// A change as the oracle sees it: the key, the new value (NULL for a delete), the replaced one.
type Replaced = (String, Value, Value);

/// Each change the input makes, in input order, and the live keys at the end.
fn oracle(input: &str) -> (Vec<Replaced>, HashMap<String, Value>) {
    let mut live: HashMap<String, Value> = HashMap::new();
    let mut changes = Vec::new();
    for line in input.lines() {
        let m: Value = serde_json::from_str(line).expect("a generated line");
        let key = m["key"].as_str().expect("key").to_string();
        let (new, old) = if m["op"] == "delete" {
            (Value::Null, live.remove(&key))
        } else {
            (
                m["value"].clone(),
                live.insert(key.clone(), m["value"].clone()),
            )
        };
        if let Some(old) = old {
            changes.push((key, new, old));
        } else if !new.is_null() {
            changes.push((key, new, Value::Null));
        }
    }
    (changes, live)
}

fn rows(path: &std::path::Path) -> Vec<Value> {
    sorted_lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).expect("an output line"))
        .collect()
}

#[test]
fn replaced_maps_come_back_whole_in_old_and_in_table_retractions() {
    let work = Workdir::new(FLOW, &["users-orders", "--events", "4000", "--seed", "3"]);
    let input = std::fs::read_to_string(work.path("in.jsonl")).expect("input");
    let (changes, live) = oracle(&input);
    assert!(changes.iter().filter(|c| c.2.is_object()).count() > 500);
    let mut expected: Vec<String> = changes
        .iter()
        .map(|(k, new, old)| json!([k, new, old]).to_string())
        .collect();
    expected.sort();
    let mut expected_final: Vec<String> = live
        .iter()
        .filter(|(k, _)| k.starts_with("order_"))
        .map(|(k, v)| json!([k, v["status"], v["amount"]]).to_string())
        .collect();
    expected_final.sort();
    for workers in ["1", "3"] {
        let out = work.path(&format!("out-{workers}"));
        let status = work
            .run()
            .arg("--output")
            .arg(&out)
            .args(["-w", workers])
            .status()
            .expect("run kvflow");
        assert!(status.success());
        let mut seen: Vec<String> = rows(&out.join("changes.jsonl"))
            .iter()
            .map(|r| json!([r["key"], r["value"], r["old"]]).to_string())
            .collect();
        seen.sort();
        assert_eq!(seen, expected, "changes with {workers} workers");
        let mut state: Vec<String> = rows(&out.join("amounts.final.jsonl"))
            .iter()
            .map(|r| json!([r["key"], r["status"], r["amount"]]).to_string())
            .collect();
        state.sort();
        assert_eq!(
            state, expected_final,
            "final amounts with {workers} workers"
        );
    }
}
