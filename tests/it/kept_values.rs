//! A large store shard keeps maps and lists packed and decodes a replaced value only for a
//! reader of `old` (`store::shard`). Whatever it defers, the events view's `old` and the table
//! view's retractions must show the values as written. The input first fills every shard
//! past the size where packing starts, then overwrites and deletes map values; the oracle
//! replays it into a map of JSON values, independent of the store's code.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::{kvflow, sorted_lines, tmp};

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

/// Keys enough that each of up to 3 shards holds more than the packing threshold.
const FILLER_KEYS: u64 = 60_000;

/// Filler keys, then puts, overwrites and deletes of 500 orders, each value a map.
fn input() -> String {
    let mut text = String::new();
    let line = |ts: u64, op: &str, key: &str, value: &str| {
        format!("{{\"ts\":{ts},\"op\":\"{op}\",\"key\":\"{key}\",\"value\":{value}}}\n")
    };
    for i in 0..FILLER_KEYS {
        text.push_str(&line(
            1000 + i / 100,
            "put",
            &format!("f_{i}"),
            &format!("{{\"n\":{i}}}"),
        ));
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..6000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let key = format!("order_{}", seed % 500);
        let ts = 2000 + i;
        if seed.is_multiple_of(7) {
            text.push_str(&format!(
                "{{\"ts\":{ts},\"op\":\"delete\",\"key\":\"{key}\"}}\n"
            ));
        } else {
            let status = ["new", "paid", "sent"][(seed % 3) as usize];
            let value = format!(
                "{{\"amount\":{},\"status\":\"{status}\",\"items\":[{},{{\"x\":null}}]}}",
                seed % 1000,
                i
            );
            text.push_str(&line(ts, "put", &key, &value));
        }
    }
    text
}

#[test]
fn replaced_maps_come_back_whole_in_old_and_in_table_retractions() {
    let dir = tmp();
    let (flow, input_path) = (dir.path().join("flow.toml"), dir.path().join("in.jsonl"));
    std::fs::write(&flow, FLOW).expect("flow");
    let input = input();
    std::fs::write(&input_path, &input).expect("input");
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
        let out = dir.path().join(format!("out-{workers}"));
        let status = kvflow()
            .arg("run")
            .arg(&flow)
            .arg("--input")
            .arg(&input_path)
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
