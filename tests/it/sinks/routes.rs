//! Event routes: handlers get exactly the events a brute-force router computes from the
//! input, in order; counts per route and kind per window match; and `kvflow replay` through
//! dataflows/routes.toml writes what the live run wrote.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use kvflow::change::{EventKind, Mutation, Op};
use kvflow::dataflow_file::load_str;
use kvflow::plan::sinks::{Action, Route, RouteTable};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::capture::Capture;
use kvflow::workload::{GenConfig, Workload, generate};

use crate::support::{kvflow_output, repo, sorted_lines, succeeded};

/// (key, kind, ts) of an event.
type Seen = (String, EventKind, u64);

/// The changes the store derives from `input`, in input order.
fn changes(input: &[Mutation]) -> Vec<(Seen, kvflow::value::Value)> {
    let mut live: HashMap<String, ()> = HashMap::new();
    let mut out = Vec::new();
    for m in input {
        let key = m.key.to_string();
        let ts = m.ts.expect("ts");
        let kind = match (m.op, live.contains_key(&key)) {
            (Op::Put, true) => EventKind::Update,
            (Op::Put, false) => EventKind::Insert,
            (Op::Delete, true) => EventKind::Delete,
            (Op::Delete, false) => continue,
        };
        match m.op {
            Op::Put => live.insert(key.clone(), ()),
            Op::Delete => live.remove(&key),
        };
        out.push(((key, kind, ts), m.value.clone()));
    }
    out
}

fn table(
    log: Arc<Mutex<BTreeMap<&'static str, Vec<Seen>>>>,
    batches: Arc<Mutex<Vec<usize>>>,
) -> RouteTable {
    let mut table = RouteTable::new(10_000);
    let seen = |event: &kvflow::change::ChangeEvent| (event.key.to_string(), event.kind, event.ts);
    let deletes = log.clone();
    table.function("removed", move |e| {
        deletes
            .lock()
            .unwrap()
            .entry("removed")
            .or_default()
            .push(seen(e))
    });
    let big = log.clone();
    table
        .conditional(
            "big_orders",
            "CAST(value.amount AS INT) > 400",
            Action::Function(Arc::new(move |e| {
                big.lock().unwrap().entry("big").or_default().push(seen(e))
            })),
        )
        .expect("predicate");
    let batched = log.clone();
    table.batch("order_batches", 7, u64::MAX, move |events| {
        batches.lock().unwrap().push(events.len());
        let mut log = batched.lock().unwrap();
        log.entry("batched")
            .or_default()
            .extend(events.iter().map(seen));
    });
    table.route(
        Route::new("deletes")
            .kinds([EventKind::Delete])
            .priority(20)
            .handler("removed"),
    );
    let orders = Route::new("orders")
        .kinds([EventKind::Insert, EventKind::Update])
        .key_regex("^order_");
    table.route(
        orders
            .expect("regex")
            .priority(10)
            .handler("big_orders")
            .handler("order_batches"),
    );
    table
}

#[test]
fn handlers_get_what_a_brute_force_router_computes() {
    let config = GenConfig {
        events: 4000,
        seed: 5,
        rate_per_sec: 300,
        ..GenConfig::default()
    };
    let input: Vec<Mutation> = generate(&Workload::UsersOrders, &config).collect();
    // Oracle: first match by priority: deletes (20), then order inserts/updates (10).
    let mut expected: BTreeMap<&str, Vec<Seen>> = BTreeMap::new();
    let mut counts: BTreeMap<(u64, String, &str), u64> = BTreeMap::new();
    for (seen, value) in changes(&input) {
        let route = match (&seen.1, seen.0.starts_with("order_")) {
            (EventKind::Delete, _) => "deletes",
            (_, true) => "orders",
            _ => "unrouted",
        };
        *counts
            .entry((seen.2 / 10_000 * 10_000, route.to_string(), seen.1.name()))
            .or_default() += 1;
        match route {
            "deletes" => expected.entry("removed").or_default().push(seen),
            "orders" => {
                if value.get("amount").as_i64().is_some_and(|a| a > 400) {
                    expected.entry("big").or_default().push(seen.clone());
                }
                expected.entry("batched").or_default().push(seen);
            }
            _ => {}
        }
    }
    let loaded = load_str(
        "[sources.t]\nview = \"table\"\n[[pipelines]]\nname = \"p\"\nfrom = \"t\"\n",
        "t.toml",
        Path::new("."),
    )
    .expect("file");
    for workers in [1, 3] {
        let log = Arc::new(Mutex::new(BTreeMap::new()));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let mut plan = loaded.plan.clone();
        plan.sinks.routes = Some(Arc::new(table(log.clone(), batches.clone())));
        let capture = Capture::new();
        run(
            Arc::new(plan),
            InputSource::Memory(Arc::new(input.clone())),
            RunOptions::default().workers(workers),
            Arc::new(capture.clone()),
        )
        .expect("run");
        assert_eq!(*log.lock().unwrap(), expected, "{workers} workers");
        let sizes = batches.lock().unwrap().clone();
        let n = expected["batched"].len();
        assert!(sizes[..sizes.len() - 1].iter().all(|s| *s == 7));
        assert_eq!(sizes.iter().sum::<usize>(), n);
        let got: BTreeMap<(u64, String, &str), u64> = capture
            .sorted("routes.counts", OutputKind::Rows)
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                let kind = EventKind::parse(v["kind"].as_str().expect("kind"))
                    .expect("kind")
                    .name();
                let key = (
                    v["window_start"].as_u64().expect("start"),
                    v["route"].as_str().expect("route").to_string(),
                    kind,
                );
                (key, v["count"].as_u64().expect("count"))
            })
            .collect();
        assert_eq!(got, counts, "{workers} workers");
    }
}

fn kvflow(args: &[&str]) {
    succeeded(kvflow_output(args));
}

#[test]
fn replay_sends_the_history_through_the_routes_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = repo("dataflows/routes.toml");
    let (data, live, replayed) = (
        dir.path().join("data"),
        dir.path().join("live"),
        dir.path().join("replayed"),
    );
    let s = |p: &Path| p.display().to_string();
    kvflow(&[
        "run",
        &s(&file),
        "--data-dir",
        &s(&data),
        "--output",
        &s(&live),
    ]);
    kvflow(&[
        "replay",
        "--data-dir",
        &s(&data),
        &s(&file),
        "--output",
        &s(&replayed),
    ]);
    for name in ["removed", "big_orders", "order_batches", "users"] {
        let file = format!("{name}.routed.jsonl");
        let lines = sorted_lines(&live.join(&file));
        assert!(!lines.is_empty(), "{file}");
        assert_eq!(lines, sorted_lines(&replayed.join(&file)), "{file}");
    }
    let counts = sorted_lines(&live.join("routes.counts.jsonl"));
    assert_eq!(counts, sorted_lines(&replayed.join("routes.counts.jsonl")));
    let total: u64 = counts
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["count"]
                .as_u64()
                .expect("n")
        })
        .sum();
    // The generator deletes only live keys, so each of its 5000 mutations is one change.
    assert_eq!(total, 5000, "every change counted once");
}
