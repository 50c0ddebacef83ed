//! `kvflow generate keyed-stream` through the CLI: the stream `scripts/vs_duckdb.sh` feeds
//! dataflows/window_counts.toml has the keys, prefixes, event-time rate and disorder bound it
//! claims, and nothing in it is late for that file.

use std::collections::HashMap;

use crate::support::{assert_success, kvflow, kvflow_output, repo, s, sorted_outputs, tmp};

const ARGS: [&str; 12] = [
    "generate",
    "keyed-stream",
    "--events",
    "100000",
    "--keys",
    "50000",
    "--rate-per-sec",
    "400",
    "--disorder-ms",
    "200",
    "--seed",
    "3",
];

#[test]
fn keyed_stream_has_its_keys_prefixes_rate_and_disorder_bound() {
    let output = kvflow_output(&ARGS);
    assert_success(&output);
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut writes: HashMap<String, u32> = HashMap::new();
    let mut max_seen = 0;
    let mut first = None;
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let m: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let key = m["key"].as_str().expect("key").to_string();
        let (prefix, n) = key.split_once('_').expect("<prefix>_<n>");
        let n: u64 = n.parse().expect("a number after the prefix");
        assert!(n < 50_000, "{key}");
        assert_eq!(
            prefix,
            ["a", "b", "c", "d", "e", "f"][(n % 6) as usize],
            "{key}"
        );
        match m["op"].as_str() {
            Some("put") => {
                let v = m["value"].as_i64().expect("an integer value");
                assert!((0..100).contains(&v), "{line}");
            }
            Some("delete") => assert!(m.get("value").is_none(), "{line}"),
            other => panic!("op {other:?}"),
        }
        let ts = m["ts"].as_u64().expect("ts");
        first.get_or_insert(ts);
        max_seen = u64::max(max_seen, ts);
        assert!(
            max_seen - ts <= 200,
            "{line} is {} ms behind",
            max_seen - ts
        );
        *writes.entry(key).or_default() += 1;
    }
    assert_eq!(lines, 100_000);
    assert_eq!(writes.len(), 50_000, "every key is written");
    let twice = writes.values().filter(|&&w| w == 2).count();
    assert!(twice >= 45_000, "most keys are written twice: {twice}");
    // 400 events per second of event time: 100000 events span 250 s.
    let span = max_seen - first.expect("events");
    assert!((249_500..=250_200).contains(&span), "{span}");
}

#[test]
fn window_counts_over_keyed_stream_has_nothing_late() {
    let dir = tmp();
    let input = dir.path().join("stream.jsonl");
    let mut args = ARGS.to_vec();
    args.extend(["-o", s(&input)]);
    assert_success(&kvflow_output(&args));
    let out = dir.path().join("out");
    let file = repo("dataflows/window_counts.toml");
    let output = kvflow()
        .args(["run", s(&file), "--input", s(&input), "--output", s(&out)])
        .output()
        .expect("run kvflow");
    assert_success(&output);
    let outputs = sorted_outputs(&out);
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(names, ["by_kind", "hopping", "sessions", "tumbling"]);
    // Every change counted once per kind: the final by_kind counts add up to the events.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for line in &outputs["by_kind"] {
        let row: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let group = (row["kind"].to_string(), row["prefix"].to_string());
        let count = row["count"].as_i64().expect("count");
        let slot = last.entry(group).or_default();
        *slot = (*slot).max(count);
    }
    assert_eq!(last.len(), 18, "three kinds by six prefixes");
    assert_eq!(
        last.values().sum::<i64>(),
        100_000,
        "no delete of an absent key"
    );
}
