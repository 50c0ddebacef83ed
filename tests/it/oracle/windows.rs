//! Tumbling, sliding and session windows over random streams, against brute-force oracles.

use std::collections::BTreeMap;
use std::sync::Arc;

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Source, Window};
use kvflow::sinks::OutputKind;

use super::common::*;

const SEEDS: [u64; 3] = [21, 22, 23];

fn prefix_ts_v() -> [(&'static str, &'static str); 3] {
    [
        ("prefix", "split_part(key, '_', 1)"),
        ("ts", "ts"),
        ("v", "value"),
    ]
}

fn fixed_rows(events: &[&Ev], size: u64, slide: u64) -> Vec<String> {
    let mut windows: BTreeMap<(u64, u64, String), Group> = BTreeMap::new();
    for e in events {
        for (s, end) in fixed_windows(e.ts, size, slide) {
            windows
                .entry((s, end, e.prefix()))
                .or_default()
                .push(e.ts, e.value.clone());
        }
    }
    windows
        .iter()
        .map(|((s, e, p), g)| window_row(*s, *e, p, g))
        .collect()
}

/// Final emission, no late data: every window and group appears exactly once, as a plain
/// row, whatever the number of workers or the batch size.
#[test]
fn windows_match_oracle() {
    let d = 250;
    let gap = 300;
    let plan = PlanBuilder::new()
        .source(Source::events("events").max_out_of_orderness(d))
        .pipeline(
            Pipeline::from_events("w_tumble")
                .map(prefix_ts_v())
                .window(Window::tumbling(1000))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("w_slide")
                .map(prefix_ts_v())
                .window(Window::sliding(1000, 250))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("w_gaps")
                .map(prefix_ts_v())
                .window(Window::sliding(300, 700))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        // A size that is no multiple of the slide: rows fold by 200 ms panes.
        .pipeline(
            Pipeline::from_events("w_panes")
                .map(prefix_ts_v())
                .window(Window::sliding(1000, 600))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("w_ses_prefix")
                .map(prefix_ts_v())
                .window(Window::session(gap))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("w_ses_key")
                .map([("key", "key"), ("ts", "ts"), ("v", "value")])
                .window(Window::session(gap))
                .group_by(["key"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("w_global")
                .window(Window::tumbling(2000))
                .aggregate([
                    Agg::count("count"),
                    Agg::min("min", "value"),
                    Agg::max("max", "value"),
                ]),
        )
        .pipeline(
            Pipeline::from_events("w_cont")
                .map(prefix_ts_v())
                .window(Window::tumbling(1000).continuous())
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("w_ses_cont")
                .map(prefix_ts_v())
                .window(Window::session(gap).continuous())
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .build()
        .unwrap();
    let final_pipelines = [
        "w_tumble",
        "w_slide",
        "w_gaps",
        "w_panes",
        "w_ses_prefix",
        "w_ses_key",
        "w_global",
    ];
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            ..Gen::default()
        }
        .generate(seed);
        let replay = replay(&muts);
        assert!(replay.events.iter().all(|e| !e.is_late(d)));
        let events: Vec<&Ev> = replay.events.iter().collect();
        let runs = run_all(&plan, &muts);

        let mut want: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        want.insert("w_tumble", fixed_rows(&events, 1000, 1000));
        want.insert("w_slide", fixed_rows(&events, 1000, 250));
        want.insert("w_gaps", fixed_rows(&events, 300, 700));
        want.insert("w_panes", fixed_rows(&events, 1000, 600));
        want.insert(
            "w_ses_prefix",
            session_rows(&replay.events, gap, |e| e.prefix()),
        );
        want.insert(
            "w_ses_key",
            session_rows_as(&replay.events, gap, "key", |e| e.key.clone()),
        );
        let mut global: BTreeMap<u64, Group> = BTreeMap::new();
        for e in &events {
            global
                .entry(e.ts - e.ts % 2000)
                .or_default()
                .push(e.ts, e.value.clone());
        }
        want.insert(
            "w_global",
            global
                .iter()
                .map(|(s, g)| {
                    obj(&[
                        ("window_start", J::from(*s)),
                        ("window_end", J::from(s + 2000)),
                        ("count", g.count()),
                        ("min", g.min()),
                        ("max", g.max()),
                    ])
                })
                .collect(),
        );
        // Sessions really are split and merged in these streams.
        let sessions = &want["w_ses_prefix"];
        assert!(
            sessions.len() > 6,
            "seed {seed}: only {} sessions",
            sessions.len()
        );

        for (cfg, rec) in &runs {
            for p in final_pipelines {
                let context = format!("seed {seed} {cfg:?} {p}");
                assert_lines(&context, &rec.rows(p), &want[p]);
                assert_eq!(
                    rec.sorted(p, OutputKind::Late),
                    Vec::<String>::new(),
                    "{context} late"
                );
                assert_eq!(
                    rec.sorted(p, OutputKind::Errors),
                    Vec::<String>::new(),
                    "{context} errors"
                );
            }
            // Continuous windows: a changelog whose final state is the same set of rows.
            let context = format!("seed {seed} {cfg:?}");
            for p in ["w_tumble", "w_ses_prefix"] {
                let finals = rec.sorted(p, OutputKind::Final);
                assert_lines(&format!("{context} {p} final"), &finals, &want[p]);
            }
            let folded = fold_keyed(&rec.ordered("w_cont", OutputKind::Rows), 3);
            assert_lines(
                &format!("{context} w_cont folded"),
                &folded,
                &want["w_tumble"],
            );
            let folded = fold_keyed(&rec.ordered("w_ses_cont", OutputKind::Rows), 3);
            assert_lines(
                &format!("{context} w_ses_cont folded"),
                &folded,
                &want["w_ses_prefix"],
            );
        }
        for p in final_pipelines {
            assert_same_across(&runs, p, OutputKind::Rows, &format!("seed {seed}"));
        }
        for p in ["w_cont", "w_ses_cont"] {
            assert_same_per_batch(&runs, p, OutputKind::Rows, &format!("seed {seed}"));
        }
    }
}

/// With allowed lateness and deliberately late events: late events (by the documented rule)
/// go to the late output in every configuration, and the folded changelog of every window
/// (first emission, corrections, deletes of merged sessions) is the oracle over on-time
/// events.
#[test]
fn windows_with_late_events_match_oracle() {
    let d = 150;
    let lateness = 400;
    let gap = 250;
    let plan = PlanBuilder::new()
        .source(Source::events("events").max_out_of_orderness(d))
        .pipeline(
            Pipeline::from_events("l_tumble")
                .map(prefix_ts_v())
                .window(Window::tumbling(1000).allowed_lateness(lateness))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("l_slide")
                .map(prefix_ts_v())
                .window(Window::sliding(1000, 500).allowed_lateness(lateness))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_events("l_session")
                .map(prefix_ts_v())
                .window(Window::session(gap).allowed_lateness(lateness))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("l_all")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_events("l_strict")
                .map(prefix_ts_v())
                .window(Window::tumbling(1000))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .build()
        .unwrap();
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            late_percent: 12,
            late_by: 900,
            ..Gen::default()
        }
        .generate(seed + 50);
        let replay = replay(&muts);
        let runs = run_all(&plan, &muts);
        for (pipelines, bound) in [
            (&["l_tumble", "l_slide", "l_session"][..], d + lateness),
            (&["l_strict"][..], d),
        ] {
            let on_time: Vec<&Ev> = replay.events.iter().filter(|e| !e.is_late(bound)).collect();
            let late: Vec<String> = replay
                .events
                .iter()
                .filter(|e| e.is_late(bound))
                .map(Ev::late_line)
                .collect();
            assert!(!late.is_empty(), "seed {seed}: some late events");
            let on_time_owned: Vec<Ev> = on_time.iter().map(|e| (*e).clone()).collect();
            for p in pipelines {
                let want = match *p {
                    "l_tumble" | "l_strict" => fixed_rows(&on_time, 1000, 1000),
                    "l_slide" => fixed_rows(&on_time, 1000, 500),
                    _ => session_rows(&on_time_owned, gap, |e| e.prefix()),
                };
                for (cfg, rec) in &runs {
                    let context = format!("seed {seed} {cfg:?} {p}");
                    assert_lines(
                        &format!("{context} late"),
                        &rec.sorted(p, OutputKind::Late),
                        &late,
                    );
                    let folded = fold_keyed(&rec.ordered(p, OutputKind::Rows), 3);
                    assert_lines(&format!("{context} folded"), &folded, &want);
                    if matches!(*p, "l_tumble" | "l_session") {
                        let finals = rec.sorted(p, OutputKind::Final);
                        assert_lines(&format!("{context} final"), &finals, &want);
                    }
                }
                assert_same_per_batch(&runs, p, OutputKind::Rows, &format!("seed {seed}"));
            }
        }
        // A pipeline without a window takes every event, late or not.
        let mut all: BTreeMap<String, Group> = BTreeMap::new();
        for e in &replay.events {
            all.entry(e.prefix())
                .or_default()
                .push(e.ts, e.value.clone());
        }
        let want: Vec<String> = all
            .iter()
            .map(|(p, g)| {
                obj(&[
                    ("prefix", J::str(p)),
                    ("count", g.count()),
                    ("sum", g.sum()),
                ])
            })
            .collect();
        for (cfg, rec) in &runs {
            let context = format!("seed {seed} {cfg:?} l_all");
            assert_lines(&context, &rec.sorted("l_all", OutputKind::Final), &want);
            assert_eq!(
                rec.sorted("l_all", OutputKind::Late),
                Vec::<String>::new(),
                "{context}"
            );
        }
        // Without allowed lateness there is nothing to correct: one plain row per window.
        for (cfg, rec) in &runs {
            let rows = rec.rows("l_strict");
            assert!(
                rows.iter().all(|l| !l.starts_with("{\"op\"")),
                "seed {seed} {cfg:?}: {rows:?}"
            );
        }
    }
}

/// Fixed windows over the TABLE view, brute force: a window's row, emitted when it closes,
/// counts the rows with a ts in the window that are live in the table as of the window's
/// end (after the batches stamped at or before it).
fn table_windows_at_close(muts: &[Mut], stamps: &[u64], size: u64, slide: u64) -> Vec<String> {
    let tables = table_at_stamps(muts, stamps);
    let max_ts = muts.iter().map(|m| m.ts).max().unwrap();
    let mut out = Vec::new();
    for start in (0..=max_ts).step_by(slide as usize) {
        let end = start + size;
        let Some((_, table)) = tables.range(..=end).next_back() else {
            continue;
        };
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (key, live) in table {
            if (start..end).contains(&live.ts) {
                groups
                    .entry(prefix_of(key))
                    .or_default()
                    .push(live.ts, live.value.clone());
            }
        }
        out.extend(groups.iter().map(|(p, g)| window_row(start, end, p, g)));
    }
    out
}

/// Windowed pipelines over the TABLE view (updates and deletes move and remove rows while
/// their windows are open), re-derived per batch size.
#[test]
fn windowed_table_view_matches_oracle_at_close() {
    let d = 100;
    let windowed = |name: &str, window: Window| {
        Pipeline::from_table(name)
            .map(prefix_ts_v())
            .window(window)
            .group_by(["prefix"])
            .aggregate([Agg::count("count"), Agg::sum("sum", "v")])
    };
    let plan = Arc::new(
        PlanBuilder::new()
            .source(Source::table("table").max_out_of_orderness(d))
            .pipeline(windowed("tw", Window::tumbling(1000)))
            .pipeline(windowed("tws", Window::sliding(1000, 500)))
            .pipeline(windowed("twc", Window::tumbling(1000).continuous()))
            .build()
            .unwrap(),
    );
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            keys_per_prefix: 4,
            delete_percent: 25,
            max_step: 170,
            ..Gen::default()
        }
        .generate(seed + 70);
        assert!(replay(&muts).events.iter().all(|e| !e.is_late(d)));
        let input = to_input(&muts);
        let mut outputs: BTreeMap<(u64, &str), Vec<String>> = BTreeMap::new();
        for (workers, batch_ms) in CONFIGS {
            let rec = run_plan(
                &plan,
                &input,
                RunCfg {
                    workers,
                    batch_ms,
                    batch_events: 0,
                    raw: false,
                },
            );
            let stamps = batch_stamps(&muts, d, batch_ms);
            let tumbling = table_windows_at_close(&muts, &stamps, 1000, 1000);
            let sliding = table_windows_at_close(&muts, &stamps, 1000, 500);
            let context = format!("seed {seed} ({workers}, {batch_ms})");
            assert_lines(&format!("{context} tw"), &rec.rows("tw"), &tumbling);
            assert_lines(&format!("{context} tws"), &rec.rows("tws"), &sliding);
            // Continuous: every change shows, and the last one is the row at close.
            let folded = fold_keyed(&rec.ordered("twc", OutputKind::Rows), 3);
            assert_lines(&format!("{context} twc folded"), &folded, &tumbling);
            for p in ["tw", "tws", "twc"] {
                assert_eq!(
                    rec.sorted(p, OutputKind::Late),
                    Vec::<String>::new(),
                    "{context} {p} late"
                );
                if let Some(previous) = outputs.get(&(batch_ms, p)) {
                    assert_lines(
                        &format!("{context} {p} vs 1 worker"),
                        &rec.rows(p),
                        previous,
                    );
                }
                outputs.insert((batch_ms, p), rec.rows(p));
            }
        }
    }
}

/// An open table row of the session model: `(ts, value, seq)`.
type OpenRow = (u64, J, u64);
/// A session of the model: `(first ts, last ts)` and its rows.
type ModelSession = ((u64, u64), Vec<OpenRow>);

/// Sessions over the TABLE view, brute force: batch by batch (stamps re-derived from the
/// batching rule), apply the batch's table changes to each group's open rows (a change to a
/// row whose session already closed is ignored), recompute the sessions of the open rows
/// and close those that no future row can reach (`last + gap + lateness` below the next
/// batch's stamp). The result is every closed session plus the ones open at the end.
fn table_sessions_oracle(
    muts: &[Mut],
    stamps: &[u64],
    gap: u64,
    lateness: u64,
) -> Vec<(u64, u64, String, Group)> {
    let changes = replay(muts).table_changes;
    let mut distinct: Vec<u64> = stamps.to_vec();
    distinct.dedup();
    // Open rows per group: (ts, value, seq).
    let mut open: BTreeMap<String, Vec<OpenRow>> = BTreeMap::new();
    let mut closed = Vec::new();
    let split = |rows: &[OpenRow]| -> Vec<ModelSession> {
        let mut sorted = rows.to_vec();
        sorted.sort_by_key(|r| r.0);
        let mut out: Vec<ModelSession> = Vec::new();
        for row in sorted {
            match out.last_mut() {
                Some(((_, last), members)) if row.0 <= *last + gap => {
                    *last = row.0;
                    members.push(row);
                }
                _ => out.push(((row.0, row.0), vec![row])),
            }
        }
        out
    };
    let group_of = |rows: &[OpenRow]| {
        let mut g = Group::default();
        for (ts, v, _) in rows {
            g.push(*ts, v.clone());
        }
        g
    };
    for (i, stamp) in distinct.iter().enumerate() {
        for change in changes.iter().filter(|c| stamps[c.seq as usize] == *stamp) {
            let rows = open.entry(prefix_of(&change.key)).or_default();
            if let Some(old) = &change.removed
                && let Some(pos) = rows.iter().position(|r| r.2 == old.seq)
            {
                rows.remove(pos);
            }
            if let Some(new) = &change.added {
                rows.push((new.ts, new.value.clone(), new.seq));
            }
        }
        let Some(next) = distinct.get(i + 1) else {
            break;
        };
        for (group, rows) in open.iter_mut() {
            for ((start, last), members) in split(rows) {
                if last + gap + lateness < *next {
                    closed.push((start, last + gap, group.clone(), group_of(&members)));
                    rows.retain(|r| !members.iter().any(|m| m.2 == r.2));
                }
            }
        }
    }
    for (group, rows) in &open {
        for ((start, last), members) in split(rows) {
            closed.push((start, last + gap, group.clone(), group_of(&members)));
        }
    }
    closed
}

/// Session windows over the table view (updates and deletes split and shrink sessions),
/// against the batch-by-batch model above: the `Final` output and the folded changelog.
#[test]
fn table_view_sessions_match_oracle() {
    let d = 150;
    let gap = 200;
    let lateness = 300;
    let session = |name: &str, window: Window, max: bool| {
        let agg = if max {
            Agg::max("sum", "v")
        } else {
            Agg::sum("sum", "v")
        };
        Pipeline::from_table(name)
            .map(prefix_ts_v())
            .window(window)
            .group_by(["prefix"])
            .aggregate([Agg::count("count"), agg])
            .with_final_state()
    };
    let plan = Arc::new(
        PlanBuilder::new()
            .source(Source::table("table").max_out_of_orderness(d))
            .pipeline(session("ts_sum", Window::session(gap), false))
            .pipeline(session("ts_max", Window::session(gap), true))
            .pipeline(session(
                "ts_late",
                Window::session(gap).allowed_lateness(lateness),
                false,
            ))
            .build()
            .unwrap(),
    );
    for seed in SEEDS {
        let muts = Gen {
            disorder: d,
            keys_per_prefix: 3,
            delete_percent: 25,
            max_step: 250,
            ..Gen::default()
        }
        .generate(seed + 90);
        assert!(replay(&muts).events.iter().all(|e| !e.is_late(d)));
        let input = to_input(&muts);
        let mut previous: BTreeMap<(u64, &str), Vec<String>> = BTreeMap::new();
        for (workers, batch_ms) in CONFIGS {
            let rec = run_plan(
                &plan,
                &input,
                RunCfg {
                    workers,
                    batch_ms,
                    batch_events: 0,
                    raw: false,
                },
            );
            let stamps = batch_stamps(&muts, d, batch_ms);
            for (p, lateness, max) in [
                ("ts_sum", 0, false),
                ("ts_max", 0, true),
                ("ts_late", lateness, false),
            ] {
                let want: Vec<String> = table_sessions_oracle(&muts, &stamps, gap, lateness)
                    .iter()
                    .map(|(s, e, p, g)| {
                        obj(&[
                            ("window_start", J::from(*s)),
                            ("window_end", J::from(*e)),
                            ("prefix", J::str(p)),
                            ("count", g.count()),
                            ("sum", if max { g.max() } else { g.sum() }),
                        ])
                    })
                    .collect();
                let context = format!("seed {seed} ({workers}, {batch_ms}) {p}");
                assert_lines(
                    &format!("{context} final"),
                    &rec.sorted(p, OutputKind::Final),
                    &want,
                );
                let folded = fold_keyed(&rec.ordered(p, OutputKind::Rows), 3);
                assert_lines(&format!("{context} folded"), &folded, &want);
                if let Some(rows) = previous.get(&(batch_ms, p)) {
                    assert_lines(&format!("{context} vs 1 worker"), &rec.rows(p), rows);
                }
                previous.insert((batch_ms, p), rec.rows(p));
            }
        }
    }
}
