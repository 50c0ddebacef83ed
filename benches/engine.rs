//! Engine benchmarks: each kvflow pipeline beside a hand-written timely/differential program
//! and a plain single-threaded HashMap loop doing the same work, over the same pre-generated
//! events (generation is not timed). Throughput is reported in events/s (criterion's
//! `Throughput::Elements`). Run: `cargo bench --bench engine`.

use std::collections::HashMap;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use differential_dataflow::AsCollection;
use differential_dataflow::operators::CountTotal;
use timely::dataflow::ProbeHandle;
use timely::dataflow::operators::{Input, Probe};

use kvflow::bench::run::Discard;
use kvflow::builder::{Agg, Pipeline, PlanBuilder, Window};
use kvflow::change::{Mutation, Op};
use kvflow::plan::Plan;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::workload::{GenConfig, Workload, generate};

#[path = "engine/join.rs"]
mod join;
#[path = "engine/session.rs"]
mod session;

/// The same allocator as the `kvflow` binary, for every program measured here.
#[global_allocator]
static ALLOCATOR: kvflow::allocator::Allocator = kvflow::allocator::Allocator;

const EVENTS: u64 = 200_000;
const BATCH_MS: u64 = 100;

fn events(workload: &Workload) -> Arc<Vec<Mutation>> {
    let config = GenConfig {
        events: EVENTS,
        seed: 1,
        ..GenConfig::default()
    };
    Arc::new(generate(workload, &config).collect())
}

/// The input cut into batches as the engine cuts it: a new batch (timely time) starts once
/// event time moved `BATCH_MS` past the last one. Yields each mutation with its batch's
/// stamp and whether it opens a new batch.
pub fn batches(input: &[Mutation]) -> impl Iterator<Item = (u64, bool, &Mutation)> {
    let mut stamp = 0;
    input.iter().map(move |m| {
        let ts = m.ts.unwrap_or(0);
        let opens = ts >= stamp + BATCH_MS;
        if opens {
            stamp = ts;
        }
        (stamp, opens, m)
    })
}

fn prefix(key: &str) -> &str {
    key.split('_').next().unwrap_or(key)
}

fn value_v(m: &Mutation) -> i64 {
    m.value.get("v").as_i64().unwrap_or(0)
}

fn run_engine(plan: &Arc<Plan>, input: &Arc<Vec<Mutation>>) {
    let options = RunOptions::default().batch_ms(BATCH_MS);
    run(
        plan.clone(),
        InputSource::Memory(input.clone()),
        options,
        Arc::new(Discard),
    )
    .expect("run");
}

fn group_by_plan() -> Arc<Plan> {
    let pipeline = Pipeline::from_events("g")
        .map([("prefix", "split_part(key, '_', 1)"), ("v", "value.v")])
        .group_by(["prefix"])
        .aggregate([Agg::count("count"), Agg::sum("sum", "v")]);
    Arc::new(PlanBuilder::new().pipeline(pipeline).build().expect("plan"))
}

fn tumbling_plan() -> Arc<Plan> {
    let pipeline = Pipeline::from_events("t")
        .map([
            ("prefix", "split_part(key, '_', 1)"),
            ("ts", "ts"),
            ("v", "value.v"),
        ])
        .window(Window::tumbling(1000))
        .group_by(["prefix"])
        .aggregate([Agg::count("count"), Agg::sum("sum", "v")]);
    Arc::new(PlanBuilder::new().pipeline(pipeline).build().expect("plan"))
}

fn session_plan() -> Arc<Plan> {
    let pipeline = Pipeline::from_events("s")
        .window(Window::session(500))
        .group_by(["key"])
        .aggregate([Agg::count("count")]);
    Arc::new(PlanBuilder::new().pipeline(pipeline).build().expect("plan"))
}

/// The hand-written differential program: events as (prefix, v), timestamps cut in
/// `BATCH_MS` batches of event time; `window` turns each into its window key and the times
/// at which it is inserted and released (the same work the engine does).
fn run_dd(input: &Arc<Vec<Mutation>>, window: Option<u64>) {
    let input = input.clone();
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let mut handle = worker.dataflow::<u64, _, _>(|scope| {
            let (handle, stream) = scope.new_input::<Vec<((String, i64, u64), u64, i64)>>();
            let keyed = match window {
                None => {
                    timely::dataflow::operators::vec::Map::map(stream, |((p, v, _ts), t, d)| {
                        ((p, (1i64, v)), t, d)
                    })
                }
                Some(size) => timely::dataflow::operators::vec::Map::flat_map(
                    stream,
                    move |((p, v, ts), t, d)| {
                        let start = ts - ts % size;
                        let end = start + size;
                        [
                            ((format!("{start}/{p}"), (1i64, v)), t.max(end), d),
                            ((format!("{start}/{p}"), (1i64, v)), t.max(end) + 1, -d),
                        ]
                    },
                ),
            };
            timely::dataflow::operators::vec::Map::map(keyed, |((k, (c, s)), t, d)| {
                (k, t, (c * d, s * d))
            })
            .as_collection()
            .count_total_core::<i64>()
            .inner
            .probe_with(&probe);
            handle
        });
        for (stamp, opens, m) in batches(&input) {
            if opens {
                handle.advance_to(stamp);
                worker.step_while(|| probe.less_than(&stamp));
            }
            let ts = m.ts.unwrap_or(0);
            handle.send(((prefix(&m.key).to_string(), value_v(m), ts), stamp, 1));
        }
        handle.close();
        worker.step_while(|| !probe.done());
    })
    .expect("timely");
}

fn hashmap_group_by(input: &[Mutation]) -> usize {
    let mut groups: HashMap<&str, (i64, i64)> = HashMap::new();
    for m in input {
        let entry = groups.entry(prefix(&m.key)).or_default();
        entry.0 += 1;
        entry.1 += value_v(m);
    }
    groups.len()
}

fn hashmap_tumbling(input: &[Mutation]) -> usize {
    let mut windows: HashMap<(u64, &str), (i64, i64)> = HashMap::new();
    for m in input {
        let ts = m.ts.unwrap_or(0);
        let entry = windows.entry((ts - ts % 1000, prefix(&m.key))).or_default();
        entry.0 += 1;
        entry.1 += value_v(m);
    }
    windows.len()
}

fn hashmap_sessions(input: &[Mutation]) -> usize {
    let mut open: HashMap<&str, (u64, u64, i64)> = HashMap::new();
    let mut closed = 0;
    for m in input
        .iter()
        .filter(|m| m.op == Op::Put || m.op == Op::Delete)
    {
        let ts = m.ts.unwrap_or(0);
        let session = open.entry(&m.key).or_insert((ts, ts, 0));
        if ts > session.1 + 500 {
            closed += 1;
            *session = (ts, ts, 0);
        }
        session.1 = session.1.max(ts);
        session.2 += 1;
    }
    closed + open.len()
}

fn bench(c: &mut Criterion) {
    let input = events(&Workload::Uniform { keys: 1000 });
    let shop = events(&Workload::UsersOrders);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    let cases: [(&str, Arc<Plan>); 3] = [
        ("group_by", group_by_plan()),
        ("tumbling", tumbling_plan()),
        ("session", session_plan()),
    ];
    for (name, plan) in &cases {
        group.bench_with_input(BenchmarkId::new("kvflow", name), &input, |b, input| {
            b.iter(|| run_engine(plan, input))
        });
    }
    group.bench_with_input(BenchmarkId::new("dd", "group_by"), &input, |b, input| {
        b.iter(|| run_dd(input, None))
    });
    group.bench_with_input(BenchmarkId::new("dd", "tumbling"), &input, |b, input| {
        b.iter(|| run_dd(input, Some(1000)))
    });
    group.bench_with_input(BenchmarkId::new("dd", "session"), &input, |b, input| {
        b.iter(|| session::run_dd_sessions(input, 500))
    });
    let join_plan = join::join_plan();
    group.bench_with_input(BenchmarkId::new("kvflow", "join"), &shop, |b, input| {
        b.iter(|| run_engine(&join_plan, input))
    });
    group.bench_with_input(BenchmarkId::new("dd", "join"), &shop, |b, input| {
        b.iter(|| join::run_dd_join(input))
    });
    group.bench_with_input(BenchmarkId::new("hashmap", "join"), &shop, |b, input| {
        b.iter(|| join::hashmap_join(input))
    });
    group.bench_with_input(
        BenchmarkId::new("hashmap", "group_by"),
        &input,
        |b, input| b.iter(|| hashmap_group_by(input)),
    );
    group.bench_with_input(
        BenchmarkId::new("hashmap", "tumbling"),
        &input,
        |b, input| b.iter(|| hashmap_tumbling(input)),
    );
    group.bench_with_input(
        BenchmarkId::new("hashmap", "session"),
        &input,
        |b, input| b.iter(|| hashmap_sessions(input)),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
