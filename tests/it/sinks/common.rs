//! Shared helpers: connections to the tests' Redis and PostgreSQL servers, a random mutation
//! stream and its oracle, runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kvflow::change::Mutation;
use kvflow::dataflow_file::load_str;
use kvflow::runtime::{InputSource, RunOptions, RunSummary, run};
use kvflow::sinks::capture::Capture;
use kvflow::sinks::external::ExternalSinks;
use kvflow::value::Value;

use crate::support::Rng;
use crate::support::services::{PostgresServer, RedisServer, postgres_server, redis_server};

/// A connection to the tests' own `redis-server`, or `None` (after saying why the test is
/// skipped) when `redis-server` is not installed.
pub fn redis() -> Option<redis::Connection> {
    redis_server().map(RedisServer::connect)
}

/// A client of the tests' own PostgreSQL (database `test`), or `None` (after saying why the
/// test is skipped) when PostgreSQL is not installed.
pub fn postgres() -> Option<postgres::Client> {
    postgres_server().map(PostgresServer::connect)
}

/// The URL of the tests' `redis-server` (call after [`redis`] returned a connection).
pub fn redis_url() -> String {
    redis_server().expect("the tests' redis-server").url()
}

/// `host:port` of the tests' `redis-server` (call after [`redis`] returned a connection).
pub fn redis_address() -> String {
    redis_server().expect("the tests' redis-server").address()
}

/// The connection string of the tests' PostgreSQL (call after [`postgres`] returned a client).
pub fn postgres_url() -> String {
    postgres_server().expect("the tests' PostgreSQL").url()
}

/// Deletes every key under `prefix`.
pub fn redis_clear(connection: &mut redis::Connection, prefix: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(connection)
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query(connection).expect("DEL");
    }
}

/// Every key under `prefix` (without it) and its value parsed as JSON, versions excluded.
pub fn redis_state(
    connection: &mut redis::Connection,
    prefix: &str,
) -> BTreeMap<String, serde_json::Value> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(connection)
        .expect("KEYS");
    let mut state = BTreeMap::new();
    for key in keys {
        let short = key[prefix.len()..].to_string();
        if short == "__kvflow_versions" {
            continue;
        }
        // NB: a key may go between KEYS and GET while a sink is writing.
        let value: Option<String> = redis::cmd("GET").arg(&key).query(connection).expect("GET");
        if let Some(value) = value {
            state.insert(short, serde_json::from_str(&value).expect("JSON value"));
        }
    }
    state
}

/// A reproducible stream of puts, updates and deletes over `keys` keys, ts increasing
/// by `step` ms.
pub fn mutations(seed: u64, n: usize, keys: usize, step: u64) -> Vec<Mutation> {
    let mut rng = Rng::new(seed);
    let mut next = move || rng.next_u64();
    (0..n)
        .map(|i| {
            let key = format!("k{}", next() % keys as u64);
            let ts = 1_700_000_000_000 + i as u64 * step;
            if next().is_multiple_of(5) {
                Mutation::delete(key, ts)
            } else {
                let text = format!(r#"{{"n":{},"tag":"t{}"}}"#, next() % 1000, next() % 7);
                Mutation::put(key, Value::parse_json(&text).expect("json"), ts)
            }
        })
        .collect()
}

/// The oracle: the table after applying `mutations` in order.
pub fn final_table(mutations: &[Mutation]) -> BTreeMap<String, serde_json::Value> {
    let mut table = BTreeMap::new();
    for m in mutations {
        match m.op {
            kvflow::change::Op::Put => {
                let json = serde_json::from_str(&m.value.to_json_string()).expect("json");
                table.insert(m.key.to_string(), json);
            }
            kvflow::change::Op::Delete => {
                table.remove(&*m.key);
            }
        }
    }
    table
}

/// Runs dataflow `text` over `input`; returns the summary, the captured outputs, the sinks.
pub fn run_text(
    text: &str,
    input: Vec<Mutation>,
    workers: usize,
) -> (RunSummary, Capture, Arc<ExternalSinks>) {
    run_with(text, input, workers, ExternalSinks::new())
}

/// As [`run_text`], counting into `external` (which the caller can watch during the run).
pub fn run_with(
    text: &str,
    input: Vec<Mutation>,
    workers: usize,
    external: Arc<ExternalSinks>,
) -> (RunSummary, Capture, Arc<ExternalSinks>) {
    let loaded = load_str(text, "test.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let capture = Capture::new();
    // NB: batches by event time alone, as a live input is cut: these tests check what each
    // time's changes deliver (a key written by this node and then by the target's node in
    // one batch nets to an echo, which is rightly not sent).
    let options = RunOptions {
        external: Some(external.clone()),
        ..RunOptions::default().workers(workers).batch_events(0)
    };
    let summary = run(
        Arc::new(loaded.plan),
        InputSource::Memory(Arc::new(input)),
        options,
        Arc::new(capture.clone()),
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"));
    (summary, capture, external)
}

/// Syncs the table of k0 (from node-c at ts 1000), k1 (local, ts 2000) and k2 (from node-d at
/// ts 3000) to `target` as node-a, in one batch that mixes origins.
pub fn sync_mixed_origins(target: &str) {
    let value = Value::parse_json(r#"{"n":1}"#).expect("json");
    let input = vec![
        Mutation::put("k0", value.clone(), 1_000).with_origin("node-c"),
        Mutation::put("k1", value.clone(), 2_000),
        Mutation::put("k2", value, 3_000).with_origin("node-d"),
    ];
    let text = format!(
        "[[sync]]\nname = \"origins\"\nkeys = [\"^k\"]\ntarget = {target}\norigin = \"node-a\"\n"
    );
    run_text(&text, input, 1);
}
