//! Group-by aggregates over the events and table views, against brute-force oracles.

use std::collections::{BTreeMap, BTreeSet};

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Source, Window};
use kvflow::change::EventKind;
use kvflow::plan::Plan;
use kvflow::sinks::OutputKind;

use super::common::*;

const SEEDS: [u64; 3] = [1, 2, 3];

fn with_sources(d: u64) -> PlanBuilder {
    PlanBuilder::new()
        .source(Source::events("events").max_out_of_orderness(d))
        .source(Source::table("table").max_out_of_orderness(d))
}

/// Checks every non-windowed aggregate pipeline of a run: the final state (both the
/// `Final` output and the folded changelog) is the oracle's, and nothing went to the late
/// or error outputs unless expected.
#[track_caller]
fn check_final(
    runs: &[((usize, u64), Recorder)],
    pipeline: &str,
    key_len: usize,
    want: &[String],
    seed: u64,
) {
    for (cfg, rec) in runs {
        let context = format!("seed {seed} {cfg:?} {pipeline}");
        assert_lines(
            &format!("{context} final"),
            &rec.sorted(pipeline, OutputKind::Final),
            want,
        );
        let folded = fold_keyed(&rec.ordered(pipeline, OutputKind::Rows), key_len);
        assert_lines(&format!("{context} folded changelog"), &folded, want);
        assert_eq!(
            rec.sorted(pipeline, OutputKind::Late),
            Vec::<String>::new(),
            "{context} late"
        );
    }
    assert_same_across(runs, pipeline, OutputKind::Final, &format!("seed {seed}"));
    assert_same_per_batch(runs, pipeline, OutputKind::Rows, &format!("seed {seed}"));
}

#[track_caller]
fn check_no_errors(runs: &[((usize, u64), Recorder)], pipeline: &str) {
    for (cfg, rec) in runs {
        assert_eq!(
            rec.sorted(pipeline, OutputKind::Errors),
            Vec::<String>::new(),
            "{cfg:?} {pipeline} errors"
        );
    }
}

fn by_prefix(rows: impl IntoIterator<Item = (String, u64, J)>) -> BTreeMap<String, Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for (prefix, ts, v) in rows {
        groups.entry(prefix).or_default().push(ts, v);
    }
    groups
}

fn events_plan(d: u64) -> Plan {
    let prefix_v = [
        ("prefix", "split_part(key, '_', 1)"),
        ("ts", "ts"),
        ("v", "value"),
    ];
    with_sources(d)
        .pipeline(
            Pipeline::from_events("ev_stats")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("count"),
                    Agg::count_of("n_v", "v"),
                    Agg::sum("sum", "v"),
                    Agg::min("min", "v"),
                    Agg::max("max", "v"),
                    Agg::avg("avg", "v"),
                    Agg::count_distinct("distinct", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("ev_abelian")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("count"),
                    Agg::sum("sum", "v"),
                    Agg::avg("avg", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("ev_first_last")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("count"),
                    Agg::first("first", "v"),
                    Agg::last("last", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("ev_updates")
                .filter("kind = 'update'")
                .map([
                    ("prefix", "split_part(key, '_', 1)"),
                    ("old", "old"),
                    ("new", "value"),
                ])
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("updates"),
                    Agg::sum("old_sum", "old"),
                    Agg::sum("new_sum", "new"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("ev_kinds")
                .group_by_exprs([("kind", "kind")])
                .aggregate([Agg::count("n"), Agg::max("last_seq", "seq")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("ev_global")
                .aggregate([Agg::count("n"), Agg::sum("total", "value")])
                .with_final_state(),
        )
        .source(
            Source::events("ab_changes")
                .kinds([EventKind::Update, EventKind::Delete])
                .key_regex("^(a|b)_")
                .max_out_of_orderness(d),
        )
        .pipeline(
            Pipeline::from_source("ev_ab_changes", "ab_changes")
                .group_by_exprs([("prefix", "split_part(key, '_', 1)"), ("kind", "kind")])
                .aggregate([Agg::count("n"), Agg::sum("old_sum", "old")])
                .with_final_state(),
        )
        .build()
        .unwrap()
}

#[test]
fn events_view_aggregates_match_oracle() {
    let d = 200;
    let plan = events_plan(d);
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            ..Gen::default()
        }
        .generate(seed);
        let replay = replay(&muts);
        assert!(
            replay.events.iter().all(|e| !e.is_late(d)),
            "generator: no late events"
        );
        assert!(
            replay.missing_deletes > 0,
            "seed {seed}: some deletes of missing keys"
        );
        let runs = run_all(&plan, &muts);

        let groups = by_prefix(
            replay
                .events
                .iter()
                .map(|e| (e.prefix(), e.ts, e.value.clone())),
        );
        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("count", g.count()),
                    ("n_v", g.count_of()),
                    ("sum", g.sum()),
                    ("min", g.min()),
                    ("max", g.max()),
                    ("avg", g.avg()),
                    ("distinct", g.count_distinct()),
                ])
            })
            .collect();
        check_final(&runs, "ev_stats", 1, &want, seed);

        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("count", g.count()),
                    ("sum", g.sum()),
                    ("avg", g.avg()),
                ])
            })
            .collect();
        check_final(&runs, "ev_abelian", 1, &want, seed);

        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("count", g.count()),
                    ("first", g.first()),
                    ("last", g.last()),
                ])
            })
            .collect();
        check_final(&runs, "ev_first_last", 1, &want, seed);

        let updates: Vec<&Ev> = replay
            .events
            .iter()
            .filter(|e| e.kind == "update")
            .collect();
        let olds = by_prefix(updates.iter().map(|e| (e.prefix(), e.ts, e.old.clone())));
        let news = by_prefix(updates.iter().map(|e| (e.prefix(), e.ts, e.value.clone())));
        let want: Vec<String> = olds
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("updates", g.count()),
                    ("old_sum", g.sum()),
                    ("new_sum", news[p].sum()),
                ])
            })
            .collect();
        check_final(&runs, "ev_updates", 1, &want, seed);

        let mut kinds: BTreeMap<&str, Group> = BTreeMap::new();
        for e in &replay.events {
            kinds.entry(e.kind).or_default().push(e.ts, J::from(e.seq));
        }
        let want: Vec<String> = kinds
            .iter()
            .map(|(k, g)| obj(&[("kind", J::str(k)), ("n", g.count()), ("last_seq", g.max())]))
            .collect();
        check_final(&runs, "ev_kinds", 1, &want, seed);

        let mut all = Group::default();
        for e in &replay.events {
            all.push(e.ts, e.value.clone());
        }
        check_final(
            &runs,
            "ev_global",
            0,
            &[obj(&[("n", all.count()), ("total", all.sum())])],
            seed,
        );

        // A source keeping updates and deletes of `a_*` and `b_*` keys only.
        let mut changes: BTreeMap<(String, &str), Group> = BTreeMap::new();
        for e in &replay.events {
            if e.kind != "insert" && ["a", "b"].contains(&e.prefix().as_str()) {
                changes
                    .entry((e.prefix(), e.kind))
                    .or_default()
                    .push(e.ts, e.old.clone());
            }
        }
        let want: Vec<String> = changes
            .iter()
            .map(|((p, k), g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("kind", J::str(k)),
                    ("n", g.count()),
                    ("old_sum", g.sum()),
                ])
            })
            .collect();
        check_final(&runs, "ev_ab_changes", 2, &want, seed);

        for p in [
            "ev_stats",
            "ev_abelian",
            "ev_first_last",
            "ev_updates",
            "ev_kinds",
            "ev_global",
            "ev_ab_changes",
        ] {
            check_no_errors(&runs, p);
        }
    }
}

fn table_plan(d: u64) -> Plan {
    let prefix_v = [
        ("prefix", "split_part(key, '_', 1)"),
        ("ts", "ts"),
        ("v", "value"),
    ];
    with_sources(d)
        .pipeline(
            Pipeline::from_table("tbl_sum")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("n"),
                    Agg::sum("total", "v"),
                    Agg::avg("mean", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tbl_multi")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([
                    Agg::min("min", "v"),
                    Agg::max("max", "v"),
                    Agg::count_distinct("distinct", "v"),
                    Agg::collect("smallest", "v", 4),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tbl_first_last")
                .map(prefix_v)
                .group_by(["prefix"])
                .aggregate([Agg::first("first", "v"), Agg::last("last", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tbl_global")
                .aggregate([Agg::count("n"), Agg::sum("total", "value")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tbl_big")
                .filter("value > 4")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("n"), Agg::sum("total", "v")])
                .with_final_state(),
        )
        .build()
        .unwrap()
}

#[test]
fn table_view_aggregates_match_oracle() {
    let d = 150;
    let plan = table_plan(d);
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            delete_percent: 25,
            keys_per_prefix: 8,
            ..Gen::default()
        }
        .generate(seed + 100);
        let replay = replay(&muts);
        let runs = run_all(&plan, &muts);
        let groups = by_prefix(
            replay
                .table
                .iter()
                .map(|(k, l)| (prefix_of(k), l.ts, l.value.clone())),
        );

        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("n", g.count()),
                    ("total", g.sum()),
                    ("mean", g.avg()),
                ])
            })
            .collect();
        check_final(&runs, "tbl_sum", 1, &want, seed);

        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("min", g.min()),
                    ("max", g.max()),
                    ("distinct", g.count_distinct()),
                    ("smallest", g.collect(4)),
                ])
            })
            .collect();
        check_final(&runs, "tbl_multi", 1, &want, seed);

        let want: Vec<String> = groups
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("first", g.first()),
                    ("last", g.last()),
                ])
            })
            .collect();
        check_final(&runs, "tbl_first_last", 1, &want, seed);

        let mut all = Group::default();
        for live in replay.table.values() {
            all.push(live.ts, live.value.clone());
        }
        let want = if replay.table.is_empty() {
            vec![]
        } else {
            vec![obj(&[("n", all.count()), ("total", all.sum())])]
        };
        check_final(&runs, "tbl_global", 0, &want, seed);

        // Filtered on the value: an update across the threshold enters or leaves.
        let big = by_prefix(
            replay
                .table
                .iter()
                .filter(|(_, l)| matches!(l.value, J::Int(v) if v > 4))
                .map(|(k, l)| (prefix_of(k), l.ts, l.value.clone())),
        );
        let want: Vec<String> = big
            .iter()
            .map(|(p, g)| obj(&[("prefix", J::str(p)), ("n", g.count()), ("total", g.sum())]))
            .collect();
        check_final(&runs, "tbl_big", 1, &want, seed);

        for p in [
            "tbl_sum",
            "tbl_multi",
            "tbl_first_last",
            "tbl_global",
            "tbl_big",
        ] {
            check_no_errors(&runs, p);
        }
    }
}

/// Floats, strings and nulls among the values: `sum` over a string is a per-record error
/// (the record is not counted at all), min/max/count_distinct order mixed values.
#[test]
fn mixed_values_errors_and_aggregates() {
    let d = 100;
    let plan = with_sources(d)
        .pipeline(
            Pipeline::from_events("mx_sum")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([
                    Agg::count("count"),
                    Agg::sum("sum", "v"),
                    Agg::avg("avg", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("mx_minmax")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([
                    Agg::count_of("n_v", "v"),
                    Agg::min("min", "v"),
                    Agg::max("max", "v"),
                    Agg::count_distinct("distinct", "v"),
                ])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("mx_table")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("n"), Agg::sum("total", "v")])
                .with_final_state(),
        )
        .build()
        .unwrap();
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            mixed_values: true,
            len: 160,
            ..Gen::default()
        }
        .generate(seed + 200);
        let replay = replay(&muts);
        let runs = run_all(&plan, &muts);
        let is_str = |v: &J| matches!(v, J::Str(_));
        let error = |prefix: &str, v: &J| {
            format!(
                "{{\"error\":\"sum needs a number, got string\",\"step\":\"Aggregate by [prefix]\",\"record\":{}}}",
                obj(&[("prefix", J::str(prefix)), ("v", v.clone())])
            )
        };

        let numeric = by_prefix(
            replay
                .events
                .iter()
                .filter(|e| !is_str(&e.value))
                .map(|e| (e.prefix(), e.ts, e.value.clone())),
        );
        let want: Vec<String> = numeric
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("count", g.count()),
                    ("sum", g.sum()),
                    ("avg", g.avg()),
                ])
            })
            .collect();
        check_final(&runs, "mx_sum", 1, &want, seed);
        let want_errors: Vec<String> = replay
            .events
            .iter()
            .filter(|e| is_str(&e.value))
            .map(|e| error(&e.prefix(), &e.value))
            .collect();
        assert!(!want_errors.is_empty());
        for (cfg, rec) in &runs {
            assert_lines(
                &format!("seed {seed} {cfg:?} mx_sum errors"),
                &rec.sorted("mx_sum", OutputKind::Errors),
                &want_errors,
            );
        }

        let all = by_prefix(
            replay
                .events
                .iter()
                .map(|e| (e.prefix(), e.ts, e.value.clone())),
        );
        let want: Vec<String> = all
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("n_v", g.count_of()),
                    ("min", g.min()),
                    ("max", g.max()),
                    ("distinct", g.count_distinct()),
                ])
            })
            .collect();
        check_final(&runs, "mx_minmax", 1, &want, seed);
        check_no_errors(&runs, "mx_minmax");

        let live = by_prefix(
            replay
                .table
                .iter()
                .filter(|(_, l)| !is_str(&l.value))
                .map(|(k, l)| (prefix_of(k), l.ts, l.value.clone())),
        );
        let want: Vec<String> = live
            .iter()
            .map(|(p, g)| obj(&[("prefix", J::str(p)), ("n", g.count()), ("total", g.sum())]))
            .collect();
        check_final(&runs, "mx_table", 1, &want, seed);
        // Every put of a string inserts a table row that fails, once.
        let want_errors: Vec<String> = muts
            .iter()
            .filter_map(|m| match &m.op {
                Op::Put(v) if is_str(v) => Some(error(&prefix_of(&m.key), v)),
                _ => None,
            })
            .collect();
        for (cfg, rec) in &runs {
            assert_lines(
                &format!("seed {seed} {cfg:?} mx_table errors"),
                &rec.sorted("mx_table", OutputKind::Errors),
                &want_errors,
            );
        }
    }
}

/// Raw output (`{"diff":..,"time":..}`): at every batch time `T`, the rows accumulated up
/// to `T` are the oracle's result over the mutations whose batch stamp is at most `T`.
#[test]
fn raw_output_matches_oracle_at_every_batch() {
    let d = 200;
    let (size, gap) = (1000, 300);
    let plan = with_sources(d)
        .pipeline(
            Pipeline::from_table("tbl_sum")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("n"), Agg::sum("total", "v")]),
        )
        .pipeline(
            Pipeline::from_events("ev_minmax")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("n"), Agg::min("min", "v"), Agg::max("max", "v")]),
        )
        .pipeline(
            Pipeline::from_events("win_cont")
                .map([
                    ("prefix", "split_part(key, '_', 1)"),
                    ("ts", "ts"),
                    ("v", "value"),
                ])
                .window(Window::tumbling(size).continuous())
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("ses_cont")
                .map([
                    ("prefix", "split_part(key, '_', 1)"),
                    ("ts", "ts"),
                    ("v", "value"),
                ])
                .window(Window::session(gap).continuous())
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .build()
        .unwrap();
    let plan = std::sync::Arc::new(plan);
    for seed in [11, 12] {
        let muts = Gen {
            disorder: d,
            delete_percent: 20,
            ..Gen::default()
        }
        .generate(seed);
        let input = to_input(&muts);
        for (workers, batch_ms) in CONFIGS {
            let rec = run_plan(
                &plan,
                &input,
                RunCfg {
                    workers,
                    batch_ms,
                    batch_events: 0,
                    raw: true,
                },
            );
            let stamps = batch_stamps(&muts, d, batch_ms);
            let distinct: BTreeSet<u64> = stamps.iter().copied().collect();
            let raw = |p: &str| -> Vec<(i64, u64, String)> {
                rec.ordered(p, OutputKind::Rows)
                    .iter()
                    .map(|l| parse_raw(l))
                    .collect()
            };
            let pipelines = ["tbl_sum", "ev_minmax", "win_cont", "ses_cont"];
            let raws: BTreeMap<&str, Vec<(i64, u64, String)>> =
                pipelines.iter().map(|p| (*p, raw(p))).collect();
            for (p, lines) in &raws {
                for (_, t, _) in lines {
                    assert!(
                        distinct.contains(t),
                        "seed {seed} {p}: output time {t} is not a batch stamp"
                    );
                }
            }
            for &stamp in &distinct {
                let upto: Vec<Mut> = muts
                    .iter()
                    .zip(&stamps)
                    .filter(|(_, s)| **s <= stamp)
                    .map(|(m, _)| m.clone())
                    .collect();
                let replay = replay(&upto);
                let context =
                    |p: &str| format!("seed {seed} ({workers}, {batch_ms}) {p} at {stamp}");

                let groups = by_prefix(
                    replay
                        .table
                        .iter()
                        .map(|(k, l)| (prefix_of(k), l.ts, l.value.clone())),
                );
                let want: Vec<String> = groups
                    .iter()
                    .map(|(p, g)| {
                        obj(&[("prefix", J::str(p)), ("n", g.count()), ("total", g.sum())])
                    })
                    .collect();
                assert_lines(
                    &context("tbl_sum"),
                    &accumulate_raw(&raws["tbl_sum"], stamp),
                    &want,
                );

                let groups = by_prefix(
                    replay
                        .events
                        .iter()
                        .map(|e| (e.prefix(), e.ts, e.value.clone())),
                );
                let want: Vec<String> = groups
                    .iter()
                    .map(|(p, g)| {
                        obj(&[
                            ("prefix", J::str(p)),
                            ("n", g.count()),
                            ("min", g.min()),
                            ("max", g.max()),
                        ])
                    })
                    .collect();
                assert_lines(
                    &context("ev_minmax"),
                    &accumulate_raw(&raws["ev_minmax"], stamp),
                    &want,
                );

                let mut windows: BTreeMap<(u64, String), Group> = BTreeMap::new();
                for e in &replay.events {
                    let start = e.ts - e.ts % size;
                    windows
                        .entry((start, e.prefix()))
                        .or_default()
                        .push(e.ts, e.value.clone());
                }
                let want: Vec<String> = windows
                    .iter()
                    .map(|((s, p), g)| window_row(*s, s + size, p, g))
                    .collect();
                assert_lines(
                    &context("win_cont"),
                    &accumulate_raw(&raws["win_cont"], stamp),
                    &want,
                );

                let want = session_rows(&replay.events, gap, |e| e.prefix());
                assert_lines(
                    &context("ses_cont"),
                    &accumulate_raw(&raws["ses_cont"], stamp),
                    &want,
                );
            }
        }
    }
}
