//! Keys a file declares append-only (`[store] append_only_keys`) are not kept by the store:
//! each put is an insert with no old value, which the table view keeps as a row that is
//! never retracted, and a delete of one finds nothing. The other keys keep the store's usual
//! meaning. The oracle replays the input into a map for the kept keys and a list for the
//! append-only ones, independent of the store's code; the run is checked on 1 and 3 workers,
//! and against the same file without `[store]` on an input whose append-only keys are each
//! written once (then nothing may change).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{kvflow, sorted_lines, tmp};

const STORE: &str = "[store]\nappend_only_keys = \"^click_\"\n";

const FLOW: &str = r#"
[sources.events]
view = "events"

[sources.live]
view = "table"

[[pipelines]]
name = "changes"
from = "events"
[[pipelines.steps]]
map = { seq = "seq", kind = "kind", key = "key", old = "old", new = "value" }

[[pipelines]]
name = "rows"
from = "live"
final_state = true
[[pipelines.steps]]
map = { key = "key", v = "value.v" }
"#;

/// Puts of clicks (each key once unless `repeat`), and puts, overwrites and deletes of users;
/// with `repeat`, some clicks are written twice and some deleted.
fn input(repeat: bool) -> String {
    let mut text = String::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..2000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let ts = 1000 + i;
        let (key, op) = match seed % 4 {
            0 | 1 if repeat && seed.is_multiple_of(13) => (format!("click_{}", i / 2), "delete"),
            0 | 1 if repeat => (format!("click_{}", i / 2), "put"),
            0 | 1 => (format!("click_{i}"), "put"),
            2 if seed.is_multiple_of(5) => (format!("user_{}", seed % 50), "delete"),
            _ => (format!("user_{}", seed % 50), "put"),
        };
        text.push_str(&match op {
            "put" => format!(
                "{{\"ts\":{ts},\"op\":\"put\",\"key\":\"{key}\",\"value\":{{\"v\":{i}}}}}\n"
            ),
            _ => format!("{{\"ts\":{ts},\"op\":\"delete\",\"key\":\"{key}\"}}\n"),
        });
    }
    text
}

/// Every change event as `[seq, kind, key, old, new]`, and the final table's `[key, v]` rows.
fn oracle(input: &str) -> (Vec<String>, Vec<String>) {
    let mut live: BTreeMap<String, Value> = BTreeMap::new();
    let mut clicks = Vec::new();
    let mut changes = Vec::new();
    for (seq, line) in input.lines().enumerate() {
        let m: Value = serde_json::from_str(line).expect("a generated line");
        let key = m["key"].as_str().expect("key").to_string();
        let put = m["op"] == "put";
        let change = if key.starts_with("click_") {
            put.then(|| {
                clicks.push(json!([key, m["value"]["v"]]).to_string());
                ("insert", Value::Null, m["value"].clone())
            })
        } else if put {
            match live.insert(key.clone(), m["value"].clone()) {
                Some(old) => Some(("update", old, m["value"].clone())),
                None => Some(("insert", Value::Null, m["value"].clone())),
            }
        } else {
            live.remove(&key).map(|old| ("delete", old, Value::Null))
        };
        if let Some((kind, old, new)) = change {
            changes.push(json!([seq as u64 + 1, kind, key, old, new]).to_string());
        }
    }
    let mut rows: Vec<String> = live
        .iter()
        .map(|(k, v)| json!([k, v["v"]]).to_string())
        .chain(clicks)
        .collect();
    rows.sort();
    changes.sort();
    (changes, rows)
}

fn json_rows(path: &std::path::Path, fields: &[&str]) -> Vec<String> {
    let mut rows: Vec<String> = sorted_lines(path)
        .iter()
        .map(|l| {
            let row: Value = serde_json::from_str(l).expect("an output line");
            Value::Array(fields.iter().map(|f| row[*f].clone()).collect()).to_string()
        })
        .collect();
    rows.sort();
    rows
}

fn run(dir: &std::path::Path, flow: &str, input: &str, workers: &str) -> std::path::PathBuf {
    let name = format!("{}-{workers}", flow.len());
    let (flow_path, input_path) = (dir.join(format!("{name}.toml")), dir.join("in.jsonl"));
    std::fs::write(&flow_path, flow).expect("flow");
    std::fs::write(&input_path, input).expect("input");
    let out = dir.join(format!("out-{name}"));
    let status = kvflow()
        .arg("run")
        .arg(&flow_path)
        .arg("--input")
        .arg(&input_path)
        .arg("--output")
        .arg(&out)
        .args(["-w", workers])
        .status()
        .expect("run kvflow");
    assert!(status.success());
    out
}

#[test]
fn append_only_keys_are_inserts_kept_by_the_table_and_not_by_the_store() {
    let dir = tmp();
    let input = input(true);
    let (changes, rows) = oracle(&input);
    assert!(changes.iter().any(|c| c.contains("\"update\"")));
    let flow = format!("{STORE}{FLOW}");
    for workers in ["1", "3"] {
        let out = run(dir.path(), &flow, &input, workers);
        let seen = json_rows(
            &out.join("changes.jsonl"),
            &["seq", "kind", "key", "old", "new"],
        );
        assert_eq!(seen, changes, "changes with {workers} workers");
        let state = json_rows(&out.join("rows.final.jsonl"), &["key", "v"]);
        assert_eq!(state, rows, "final table with {workers} workers");
    }
}

#[test]
fn keys_written_once_give_the_same_outputs_kept_or_not() {
    let dir = tmp();
    let input = input(false);
    let kept = run(dir.path(), FLOW, &input, "2");
    let append_only = run(dir.path(), &format!("{STORE}{FLOW}"), &input, "2");
    for file in ["changes.jsonl", "rows.jsonl", "rows.final.jsonl"] {
        let (a, b) = (
            sorted_lines(&kept.join(file)),
            sorted_lines(&append_only.join(file)),
        );
        assert!(!a.is_empty(), "{file} is empty");
        assert_eq!(a, b, "{file}");
    }
}
