//! Redis targets equal their source after inserts, updates and deletes.

use std::sync::atomic::Ordering;

use super::common::*;

#[test]
fn table_sync_makes_redis_equal_the_final_table() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:sync-table:";
    redis_clear(&mut redis, prefix);
    let input = mutations(1, 3000, 60, 7);
    let text = format!(
        r#"
[[sync]]
name = "table_to_redis"
keys = ["^k"]
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}
batch_size = 64
"#
    );
    for workers in [1, 3] {
        redis_clear(&mut redis, prefix);
        let (_, capture, sinks) = run_text(&text, input.clone(), workers);
        assert_eq!(redis_state(&mut redis, prefix), final_table(&input));
        let stats = sinks.sync_stats("table_to_redis");
        assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);
        assert!(
            capture
                .sorted("table_to_redis", kvflow::sinks::OutputKind::Errors)
                .is_empty()
        );
    }
}

#[test]
fn pipeline_sync_writes_each_group_row_and_deletes_emptied_groups() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:sync-pipeline:";
    redis_clear(&mut redis, prefix);
    let input = mutations(2, 2000, 40, 5);
    let text = format!(
        r#"
[sources.table]
view = "table"

[[pipelines]]
name = "by_tag"
from = "table"
steps = [{{ aggregates = {{ count = "count(*)", total = "sum(CAST(value.n AS INT))" }}, group_by = ["value.tag"] }}]

[[sync]]
name = "tags"
from = "by_tag"
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}
"#
    );
    run_text(&text, input.clone(), 2);
    // Oracle: group the final table by tag.
    let mut expected = std::collections::BTreeMap::new();
    for value in final_table(&input).values() {
        let tag = value["tag"].as_str().expect("tag").to_string();
        let n = value["n"].as_i64().expect("n");
        let entry = expected.entry(tag.clone()).or_insert((0i64, 0i64));
        entry.0 += 1;
        entry.1 += n;
    }
    let expected: std::collections::BTreeMap<String, serde_json::Value> = expected
        .into_iter()
        .map(|(tag, (count, total))| {
            let row = serde_json::json!({"tag": tag, "count": count, "total": total});
            (tag, row)
        })
        .collect();
    assert_eq!(redis_state(&mut redis, prefix), expected);
}

#[test]
fn a_batch_larger_than_the_scripts_chunk_is_written_whole() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:sync-big-batch:";
    redis_clear(&mut redis, prefix);
    // 2500 distinct keys in one batch: the script works in chunks of 1000 keys.
    let input = mutations(8, 2600, 2500, 0);
    let text = format!(
        r#"
[[sync]]
name = "big"
keys = ["^k"]
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}
conflict = "last-writer-wins"
batch_size = 5000
batch_timeout_ms = 1000
"#
    );
    let (_, _, sinks) = run_text(&text, input.clone(), 1);
    assert_eq!(redis_state(&mut redis, prefix), final_table(&input));
    assert_eq!(sinks.sync_stats("big").batches.load(Ordering::Relaxed), 1);
}

/// Changes that came from the target node are not sent back to it (no loops), and a local
/// change replaced by the target's own within one batch is not sent either.
#[test]
fn changes_from_the_target_node_are_not_sent_back() {
    use kvflow::change::Mutation;
    use kvflow::value::Value;
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:echo:";
    redis_clear(&mut redis, prefix);
    let value = |by: &str, i: usize| {
        Value::parse_json(&format!(r#"{{"by":"{by}","i":{i}}}"#)).expect("json")
    };
    let mut input = Vec::new();
    for i in 0..10 {
        input.push(Mutation::put(format!("k{i}"), value("a", i), 1_000));
    }
    for i in (0..10).step_by(2) {
        input.push(Mutation::put(format!("k{i}"), value("b", i), 2_000).with_origin("node-b"));
    }
    input.push(Mutation::put("k10", value("a", 10), 3_000));
    input.push(Mutation::put("k10", value("b", 10), 3_000).with_origin("node-b"));
    let text = format!(
        r#"
[[sync]]
name = "echo"
keys = ["^k"]
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}
origin = "node-a"
target_origin = "node-b"
"#
    );
    let (_, _, sinks) = run_text(&text, input, 2);
    let expected: std::collections::BTreeMap<String, serde_json::Value> = (0..10)
        .map(|i| (format!("k{i}"), serde_json::json!({"by": "a", "i": i})))
        .collect();
    assert_eq!(redis_state(&mut redis, prefix), expected);
    assert_eq!(
        sinks
            .sync_stats("echo")
            .skipped_echoes
            .load(Ordering::Relaxed),
        6
    );
}

/// A table sync relays changes made on other nodes with their origin: each change's version
/// carries its own origin, also in a batch that mixes origins.
#[test]
fn each_change_keeps_its_own_origin_in_its_version() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let prefix = "kvflow-test:origins:";
    redis_clear(&mut redis, prefix);
    sync_mixed_origins(&format!(
        r#"{{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}"#
    ));
    let versions: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{prefix}__kvflow_versions"))
        .query(&mut redis)
        .expect("HGETALL");
    // NB: a version is "ts:fingerprint origin"; the fingerprint is the value's.
    let versions: std::collections::BTreeMap<String, String> = versions
        .into_iter()
        .map(|(key, version)| {
            let (ts, origin) = kvflow::sinks::sync::targets::redis::parse_version(&version);
            (key, format!("{ts} {origin}"))
        })
        .collect();
    let expected: std::collections::BTreeMap<String, String> = [
        ("k0", "1000 node-c"),
        ("k1", "2000 node-a"),
        ("k2", "3000 node-d"),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{prefix}{k}"), v.to_string()))
    .collect();
    assert_eq!(versions, expected);
}
