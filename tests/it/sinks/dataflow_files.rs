//! dataflows/sync_redis.toml and dataflows/sync_postgres.toml, and their SQL twins: after a
//! run, each target equals the oracle computed from the file's generated input. The files name the usual
//! local addresses (127.0.0.1:6379, port 5432); the tests point them at their own servers.

use std::collections::BTreeMap;
use std::sync::Arc;

use kvflow::change::Mutation;
use kvflow::dataflow_file::{DefaultInput, load_sql_str, load_str};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::capture::Capture;
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::sync::SyncStats;
use kvflow::workload::generate;
use serde_json::{Value, json};

use super::common::*;
use super::sync_postgres::{drop_table, postgres_state};
use crate::support::repo;

/// Runs a shipped file on its own generated input, its target address `shipped` replaced by
/// `ours`; returns that input.
fn run_shipped(
    name: &str,
    (shipped, ours): (&str, &str),
    workers: usize,
) -> (Vec<Mutation>, Arc<ExternalSinks>) {
    let dir = repo("dataflows");
    let text = std::fs::read_to_string(dir.join(name)).expect("a shipped dataflow file");
    assert!(text.contains(shipped), "{name} names {shipped}");
    let text = text.replace(shipped, ours);
    let loaded = match name.ends_with(".sql") {
        true => load_sql_str(&text, name, &dir),
        false => load_str(&text, name, &dir),
    };
    let loaded = loaded.unwrap_or_else(|e| panic!("{e}"));
    let Some(DefaultInput::Generate { workload, config }) = loaded.input else {
        panic!("{name} generates its input")
    };
    let input: Vec<Mutation> = generate(&workload, &config).collect();
    let sinks = ExternalSinks::new();
    let options = RunOptions {
        external: Some(sinks.clone()),
        ..RunOptions::default().workers(workers)
    };
    run(
        Arc::new(loaded.plan),
        InputSource::Memory(Arc::new(input.clone())),
        options,
        Arc::new(Capture::new()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (input, sinks)
}

/// The final table's keys with `prefix`.
fn live(input: &[Mutation], prefix: &str) -> BTreeMap<String, Value> {
    final_table(input)
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

/// Count and sum of `amount` of the live orders, grouped by a field of the order.
fn order_totals(input: &[Mutation], field: &str, name: &str) -> BTreeMap<String, Value> {
    let mut groups: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for order in live(input, "order_").values() {
        let group = order[field].as_str().expect("group").to_string();
        let entry = groups.entry(group).or_default();
        entry.0 += 1;
        entry.1 += order["amount"].as_i64().expect("amount");
    }
    groups
        .into_iter()
        .map(|(g, (orders, total))| {
            (
                g.clone(),
                json!({ name: g, "orders": orders, "total": total }),
            )
        })
        .collect()
}

#[test]
fn sync_redis_file_makes_redis_equal_the_oracle() {
    let Some(mut redis) = redis() else { return };
    let url = redis_url();
    let (users, totals) = ("kvflow-dataflow:users:", "kvflow-dataflow:totals:");
    for (file, workers) in [("toml", 1), ("toml", 2), ("sql", 1), ("sql", 2)] {
        redis_clear(&mut redis, users);
        redis_clear(&mut redis, totals);
        let (input, sinks) = run_shipped(
            &format!("sync_redis.{file}"),
            ("redis://127.0.0.1:6379/", &url),
            workers,
        );
        assert_eq!(redis_state(&mut redis, users), live(&input, "user_"));
        assert_eq!(
            redis_state(&mut redis, totals),
            order_totals(&input, "user_id", "user")
        );
        for sink in ["users_to_redis", "totals_to_redis"] {
            let stats = sinks.sync_stats(sink);
            assert_eq!(SyncStats::get(&stats.dead_lettered), 0, "{sink}");
        }
    }
}

#[test]
fn sync_postgres_file_makes_postgres_equal_the_oracle() {
    let Some(mut pg) = postgres() else { return };
    let url = postgres_url();
    let shipped = "host=127.0.0.1 port=5432 user=postgres dbname=test";
    for (file, workers) in [("toml", 1), ("toml", 2), ("sql", 1), ("sql", 2)] {
        drop_table(&mut pg, "kvflow_orders");
        drop_table(&mut pg, "kvflow_status_totals");
        let name = format!("sync_postgres.{file}");
        let (input, _) = run_shipped(&name, (shipped, &url), workers);
        assert_eq!(
            postgres_state(&mut pg, "kvflow_orders"),
            live(&input, "order_")
        );
        assert_eq!(
            postgres_state(&mut pg, "kvflow_status_totals"),
            order_totals(&input, "status", "status")
        );
    }
}
