//! PostgreSQL targets equal their source after inserts, updates and deletes.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::common::*;

/// Every live row of `table` (its view `<table>_live`, which readers query) as key -> value
/// (JSON), or empty if the table does not exist.
pub fn postgres_state(
    client: &mut postgres::Client,
    table: &str,
) -> BTreeMap<String, serde_json::Value> {
    let rows = client
        .query(&format!("SELECT key, value::text FROM {table}_live"), &[])
        .unwrap_or_default();
    rows.into_iter()
        .map(|row| {
            let key: String = row.get(0);
            let value: String = row.get(1);
            (key, serde_json::from_str(&value).expect("JSON"))
        })
        .collect()
}

/// Drops `table` and its view of live rows.
pub fn drop_table(client: &mut postgres::Client, table: &str) {
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {table} CASCADE"))
        .expect("DROP TABLE");
}

#[test]
fn table_sync_makes_postgres_equal_the_final_table() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    let table = "kvflow_test_sync_table";
    let input = mutations(3, 3000, 80, 7);
    let text = format!(
        r#"
[[sync]]
name = "table_to_pg"
keys = ["^k"]
target = {{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}
batch_size = 100
"#
    );
    for workers in [1, 2] {
        drop_table(&mut pg, table);
        let (_, _, sinks) = run_text(&text, input.clone(), workers);
        assert_eq!(postgres_state(&mut pg, table), final_table(&input));
        let stats = sinks.sync_stats("table_to_pg");
        assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);
        assert_eq!(stats.conflicts.load(Ordering::Relaxed), 0);
    }
    // ts and origin columns hold each key's last change; a deleted key's row is its
    // tombstone, with the delete's ts (deleting an absent key changes nothing).
    let mut last: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for m in &input {
        let ts = m.ts.unwrap_or(0) as i64;
        let live = last.get(&*m.key).is_some_and(|(_, live)| *live);
        match m.op {
            kvflow::change::Op::Put => last.insert(m.key.to_string(), (ts, true)),
            kvflow::change::Op::Delete if live => last.insert(m.key.to_string(), (ts, false)),
            kvflow::change::Op::Delete => None,
        };
    }
    let rows = pg
        .query(
            &format!("SELECT key, ts, origin, deleted FROM {table}"),
            &[],
        )
        .expect("SELECT");
    assert_eq!(rows.len(), last.len());
    assert!(
        last.values().any(|(_, live)| !live),
        "some keys end deleted"
    );
    for row in rows {
        let key: String = row.get(0);
        let (ts, deleted) = (row.get::<_, i64>(1), row.get::<_, bool>(3));
        assert_eq!(Some(&(ts, !deleted)), last.get(&key), "ts, live of {key}");
        assert_eq!(row.get::<_, String>(2), "local");
    }
}

/// A table sync relays changes made on other nodes with their origin: each row's origin is
/// its change's, also in a batch that mixes origins.
#[test]
fn each_change_keeps_its_own_origin() {
    let Some(mut pg) = postgres() else { return };
    let postgres_url = postgres_url();
    let table = "kvflow_test_origins";
    drop_table(&mut pg, table);
    sync_mixed_origins(&format!(
        r#"{{ kind = "postgres", url = "{postgres_url}", table = "{table}" }}"#
    ));
    let rows = pg
        .query(&format!("SELECT key, ts, origin FROM {table}_live"), &[])
        .expect("SELECT");
    let origins: BTreeMap<String, (i64, String)> = rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    let expected: BTreeMap<String, (i64, String)> = [
        ("k0", 1000, "node-c"),
        ("k1", 2000, "node-a"),
        ("k2", 3000, "node-d"),
    ]
    .into_iter()
    .map(|(k, ts, o)| (k.to_string(), (ts, o.to_string())))
    .collect();
    assert_eq!(origins, expected);
}
