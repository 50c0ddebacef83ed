//! Named edge cases, each with its exact expected output lines (in every configuration).

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Source, Window};
use kvflow::plan::Plan;
use kvflow::sinks::OutputKind;

use super::common::*;

/// What one pipeline must write, in every configuration of [`CONFIGS`].
struct Expect<'a> {
    pipeline: &'a str,
    rows: Vec<String>,
    late: Vec<String>,
    errors: Vec<String>,
}

impl<'a> Expect<'a> {
    fn rows(pipeline: &'a str, rows: Vec<String>) -> Expect<'a> {
        Expect {
            pipeline,
            rows,
            late: vec![],
            errors: vec![],
        }
    }

    fn late(mut self, late: Vec<String>) -> Expect<'a> {
        self.late = late;
        self
    }

    fn errors(mut self, errors: Vec<String>) -> Expect<'a> {
        self.errors = errors;
        self
    }

    #[track_caller]
    fn check(&self, plan: &Plan, muts: &[Mut]) {
        for (cfg, rec) in run_all(plan, muts) {
            let context = format!("{cfg:?} {}", self.pipeline);
            assert_lines(
                &format!("{context} rows"),
                &rec.rows(self.pipeline),
                &self.rows,
            );
            assert_lines(
                &format!("{context} late"),
                &rec.sorted(self.pipeline, OutputKind::Late),
                &self.late,
            );
            assert_lines(
                &format!("{context} errors"),
                &rec.sorted(self.pipeline, OutputKind::Errors),
                &self.errors,
            );
        }
    }
}

fn windowed(view_d: (bool, u64), window: Window) -> Plan {
    let (table, d) = view_d;
    let map = [
        ("prefix", "split_part(key, '_', 1)"),
        ("ts", "ts"),
        ("v", "value"),
    ];
    let (builder, pipeline) = if table {
        (
            PlanBuilder::new().source(Source::table("table").max_out_of_orderness(d)),
            Pipeline::from_table("w"),
        )
    } else {
        (
            PlanBuilder::new().source(Source::events("events").max_out_of_orderness(d)),
            Pipeline::from_events("w"),
        )
    };
    builder
        .pipeline(
            pipeline
                .map(map)
                .window(window)
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .build()
        .unwrap()
}

fn events_plan(d: u64, window: Window) -> Plan {
    windowed((false, d), window)
}

fn table_plan(d: u64, window: Window) -> Plan {
    windowed((true, d), window)
}

fn row(start: u64, end: u64, prefix: &str, count: i64, sum: J) -> String {
    obj(&[
        ("window_start", J::from(start)),
        ("window_end", J::from(end)),
        ("prefix", J::str(prefix)),
        ("count", J::Int(count)),
        ("sum", sum),
    ])
}

fn upsert(start: u64, end: u64, prefix: &str, count: i64, sum: J) -> String {
    op_line(
        "upsert",
        &[
            ("window_start", J::from(start)),
            ("window_end", J::from(end)),
            ("prefix", J::str(prefix)),
            ("count", J::Int(count)),
            ("sum", sum),
        ],
    )
}

/// `{"late":true,..}` for an events-view row.
fn late_event(key: &str, ts: u64, kind: &str, seq: u64, value: J, old: J) -> String {
    Ev {
        seq,
        ts,
        kind: match kind {
            "insert" => "insert",
            "update" => "update",
            _ => "delete",
        },
        key: key.to_string(),
        value,
        old,
        max_seen_before: 0,
    }
    .late_line()
}

#[test]
fn event_at_window_end_goes_to_next_window() {
    let muts = vec![
        Mut::put("a_1", 1, 999),
        Mut::put("a_2", 2, 1000),
        Mut::put("a_3", 4, 1999),
        Mut::put("a_4", 8, 2000),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(1)),
            row(1000, 2000, "a", 2, J::Int(6)),
            row(2000, 3000, "a", 1, J::Int(8)),
        ],
    )
    .check(&events_plan(0, Window::tumbling(1000)), &muts);
}

#[test]
fn events_exactly_gap_apart_share_a_session() {
    let muts = vec![
        Mut::put("a_1", 1, 100),
        Mut::put("a_2", 2, 200),
        // 101 after the last one: a new session.
        Mut::put("a_3", 4, 301),
        Mut::put("b_1", 5, 1000),
    ];
    Expect::rows(
        "w",
        vec![
            row(100, 300, "a", 2, J::Int(3)),
            row(301, 401, "a", 1, J::Int(4)),
            row(1000, 1100, "b", 1, J::Int(5)),
        ],
    )
    .check(&events_plan(0, Window::session(100)), &muts);
}

#[test]
fn bridging_event_merges_two_open_sessions() {
    let d = 3000;
    let muts = vec![
        Mut::put("a_1", 1, 1000),
        Mut::put("a_2", 2, 3000),
        // Moves the watermark to 1500: the two sessions above are processed in batch 0.
        Mut::put("b_9", 0, 4500),
        // Out of order within the bound; exactly `gap` from both sessions.
        Mut::put("a_3", 4, 2000),
        Mut::put("z_1", 1, 20_000),
    ];
    for batch_ms in [1, 500] {
        let stamps = batch_stamps(&muts, d, batch_ms);
        assert_eq!(
            &stamps[..4],
            &[0, 0, 1500, 1500],
            "the bridge is in a later batch"
        );
    }
    Expect::rows(
        "w",
        vec![
            row(1000, 4000, "a", 3, J::Int(7)),
            row(4500, 5500, "b", 1, J::Int(0)),
            row(20_000, 21_000, "z", 1, J::Int(1)),
        ],
    )
    .check(&events_plan(d, Window::session(1000)), &muts);
}

#[test]
fn late_event_goes_to_late_output_and_leaves_the_window_unchanged() {
    let muts = vec![
        Mut::put("a_1", 1, 500),
        Mut::put("b_1", 2, 1500),
        Mut::put("a_2", 5, 600),
        Mut::put("c_1", 1, 5000),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(1)),
            row(1000, 2000, "b", 1, J::Int(2)),
            row(5000, 6000, "c", 1, J::Int(1)),
        ],
    )
    .late(vec![late_event(
        "a_2",
        600,
        "insert",
        2,
        J::Int(5),
        J::Null,
    )])
    .check(&events_plan(0, Window::tumbling(1000)), &muts);
}

/// Lateness is decided per event against the exact watermark, including `ts = max - D`.
#[test]
fn lateness_bound_is_exact() {
    let muts = vec![
        Mut::put("a_1", 1, 1000),
        // 800 + 200 = 1000: on time.
        Mut::put("a_2", 2, 800),
        // 799 + 200 < 1000: late, although its window is still open.
        Mut::put("a_3", 4, 799),
        Mut::put("a_1", 8, 1100),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(2)),
            row(1000, 2000, "a", 2, J::Int(9)),
        ],
    )
    .late(vec![late_event(
        "a_3",
        799,
        "insert",
        2,
        J::Int(4),
        J::Null,
    )])
    .check(&events_plan(200, Window::tumbling(1000)), &muts);
}

#[test]
fn allowed_lateness_corrects_a_closed_window() {
    let muts = vec![
        Mut::put("a_1", 1, 500),
        Mut::put("b_1", 2, 1500),
        // 700 + 1000 >= 1500: within the allowed lateness, after [0, 1000) closed.
        Mut::put("a_2", 5, 700),
        Mut::put("c_1", 1, 5000),
        // 800 + 1000 < 5000: late.
        Mut::put("a_3", 7, 800),
    ];
    for batch_ms in [1, 500] {
        assert_eq!(
            batch_stamps(&muts, 0, batch_ms),
            [500, 1500, 1500, 5000, 5000]
        );
    }
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(1)),
            upsert(0, 1000, "a", 2, J::Int(6)),
            row(1000, 2000, "b", 1, J::Int(2)),
            row(5000, 6000, "c", 1, J::Int(1)),
        ],
    )
    .late(vec![late_event(
        "a_3",
        800,
        "insert",
        4,
        J::Int(7),
        J::Null,
    )])
    .check(
        &events_plan(0, Window::tumbling(1000).allowed_lateness(1000)),
        &muts,
    );
}

#[test]
fn table_view_window_counts_only_the_live_row() {
    let muts = vec![
        Mut::put("a_1", 1, 100),
        Mut::put("a_2", 2, 200),
        Mut::put("a_1", 10, 300),
        Mut::delete("a_2", 400),
        Mut::put("a_3", 4, 500),
        // a_3 moves to the next window while [0, 1000) is still open (watermark 700).
        Mut::put("a_3", 6, 1200),
        Mut::put("b_1", 7, 1500),
        // Watermark 2000: [0, 1000) closed long ago; its row stays as emitted.
        Mut::put("a_1", 3, 2500),
        Mut::put("x_1", 0, 5000),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(10)),
            row(1000, 2000, "a", 1, J::Int(6)),
            row(1000, 2000, "b", 1, J::Int(7)),
            row(2000, 3000, "a", 1, J::Int(3)),
            row(5000, 6000, "x", 1, J::Int(0)),
        ],
    )
    .check(&table_plan(500, Window::tumbling(1000)), &muts);
}

#[test]
fn sliding_window_event_belongs_to_size_over_slide_windows() {
    let muts = vec![Mut::put("a_1", 3, 1100), Mut::put("b_1", 1, 1250)];
    Expect::rows(
        "w",
        vec![
            row(250, 1250, "a", 1, J::Int(3)),
            row(500, 1500, "a", 1, J::Int(3)),
            row(750, 1750, "a", 1, J::Int(3)),
            row(1000, 2000, "a", 1, J::Int(3)),
            row(500, 1500, "b", 1, J::Int(1)),
            row(750, 1750, "b", 1, J::Int(1)),
            row(1000, 2000, "b", 1, J::Int(1)),
            row(1250, 2250, "b", 1, J::Int(1)),
        ],
    )
    .check(&events_plan(0, Window::sliding(1000, 250)), &muts);
}

#[test]
fn runtime_error_goes_to_errors_and_the_rest_aggregates() {
    let muts = vec![
        Mut::put("a_1", 1, 100),
        Mut::put("a_2", "x", 200),
        Mut::put_j("a_3", J::Float(2.5), 300),
        Mut::put_j("b_1", J::Null, 400),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 2, J::Float(3.5)),
            row(0, 1000, "b", 1, J::Null),
        ],
    )
    .errors(vec![
        "{\"error\":\"sum needs a number, got string\",\"step\":\"Aggregate by [prefix]\",\
         \"record\":{\"prefix\":\"a\",\"ts\":200,\"v\":\"x\"}}"
            .to_string(),
    ])
    .check(&events_plan(0, Window::tumbling(1000)), &muts);
}

/// Deletes of missing keys emit nothing but still take a `seq`; kinds follow the store.
#[test]
fn events_and_table_views_of_a_short_history() {
    let plan = PlanBuilder::new()
        .pipeline(Pipeline::from_events("ev"))
        .pipeline(Pipeline::from_table("tb").with_final_state())
        .build()
        .unwrap();
    let muts = vec![
        Mut::put("a_1", 1, 100),
        Mut::delete("a_9", 150),
        Mut::delete("a_1", 200),
        Mut::delete("a_1", 250),
        Mut::put("a_1", 2, 300),
        Mut::put("a_1", 3, 350),
    ];
    let ev = |key: &str, ts: u64, kind: &str, seq: u64, value: J, old: J| {
        obj(&[
            ("key", J::str(key)),
            ("ts", J::from(ts)),
            ("kind", J::str(kind)),
            ("seq", J::from(seq)),
            ("value", value),
            ("old", old),
        ])
    };
    Expect::rows(
        "ev",
        vec![
            ev("a_1", 100, "insert", 0, J::Int(1), J::Null),
            ev("a_1", 200, "delete", 2, J::Null, J::Int(1)),
            ev("a_1", 300, "insert", 4, J::Int(2), J::Null),
            ev("a_1", 350, "update", 5, J::Int(3), J::Int(2)),
        ],
    )
    .check(&plan, &muts);
    for (cfg, rec) in run_all(&plan, &muts) {
        assert_lines(
            &format!("{cfg:?} tb final"),
            &rec.sorted("tb", OutputKind::Final),
            &[obj(&[
                ("key", J::str("a_1")),
                ("ts", J::Int(350)),
                ("seq", J::Int(5)),
                ("value", J::Int(3)),
            ])],
        );
    }
}

// ---------------------------------------------------------------------------------------
// A late table-view row followed by a change of the same key.

/// `{"late":true,..}` for a table-view row.
fn late_table_row(key: &str, ts: u64, seq: u64, value: J) -> String {
    format!(
        "{{\"late\":true,{}",
        &obj(&[
            ("key", J::str(key)),
            ("ts", J::from(ts)),
            ("seq", J::from(seq)),
            ("value", value)
        ])[1..]
    )
}

/// A late table row is never counted, so deleting its key must not retract it from the
/// (still open) window it would have belonged to.
#[test]
fn late_table_row_then_delete_leaves_window_unchanged() {
    let muts = vec![
        Mut::put("a_1", 1, 500),
        Mut::put("b_1", 2, 900),
        // 100 < 900: late (its window [0, 1000) is still open).
        Mut::put("a_2", 5, 100),
        Mut::delete("a_2", 950),
        Mut::put("x_1", 0, 5000),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 1, J::Int(1)),
            row(0, 1000, "b", 1, J::Int(2)),
            row(5000, 6000, "x", 1, J::Int(0)),
        ],
    )
    .late(vec![late_table_row("a_2", 100, 2, J::Int(5))])
    .check(&table_plan(0, Window::tumbling(1000)), &muts);
}

/// As above, with an on-time update of the key instead of a delete.
#[test]
fn late_table_row_then_update_counts_only_the_new_row() {
    let muts = vec![
        Mut::put("a_1", 1, 500),
        Mut::put("b_1", 2, 900),
        Mut::put("a_2", 5, 100),
        Mut::put("a_2", 7, 950),
        Mut::put("x_1", 0, 5000),
    ];
    Expect::rows(
        "w",
        vec![
            row(0, 1000, "a", 2, J::Int(8)),
            row(0, 1000, "b", 1, J::Int(2)),
            row(5000, 6000, "x", 1, J::Int(0)),
        ],
    )
    .late(vec![late_table_row("a_2", 100, 2, J::Int(5))])
    .check(&table_plan(0, Window::tumbling(1000)), &muts);
}

/// The session flavour: the late row equals an on-time row of another key (same ts and
/// value), and its key's delete must not remove that other row from the session.
#[test]
fn late_table_row_then_delete_in_a_session() {
    let muts = vec![
        Mut::put("a_1", 5, 500),
        Mut::put("b_1", 2, 900),
        // Late, and equal to a_1's row in the session `[500, 1500)`, still open.
        Mut::put("a_2", 5, 500),
        Mut::delete("a_2", 950),
        Mut::put("x_1", 0, 5000),
    ];
    Expect::rows(
        "w",
        vec![
            row(500, 1500, "a", 1, J::Int(5)),
            row(900, 1900, "b", 1, J::Int(2)),
            row(5000, 6000, "x", 1, J::Int(0)),
        ],
    )
    .late(vec![late_table_row("a_2", 500, 2, J::Int(5))])
    .check(&table_plan(0, Window::session(1000)), &muts);
}

// ---------------------------------------------------------------------------------------
// Rows whose updates come from different workers.

/// Orders matched with users on other workers: a left join must not also write them
/// padded with nulls (its unmatched part is `left - matched`, which must cancel).
#[test]
fn left_join_writes_matched_rows_unpadded() {
    let plan = PlanBuilder::new()
        .source(Source::table("orders").key_regex("^o_"))
        .source(Source::table("users").key_regex("^u_"))
        .pipeline(
            Pipeline::from_source("lj", "orders")
                .left_join("users", [("value.user", "key")])
                .with_final_state(),
        )
        .build()
        .unwrap();
    let mut muts = Vec::new();
    for i in 0..8 {
        muts.push(Mut::put(&format!("u_{i}"), i, 10 * i as u64));
    }
    for i in 0..9 {
        muts.push(Mut::put_j(
            &format!("o_{i}"),
            J::map([("user", J::Str(format!("u_{i}")))]),
            100 + i as u64,
        ));
    }
    let want: Vec<(String, Vec<(String, J)>)> = (0..9)
        .map(|i| {
            let order = Live {
                value: J::map([("user", J::Str(format!("u_{i}")))]),
                ts: 100 + i as u64,
                seq: 8 + i as u64,
            };
            let mut fields = order.fields(&format!("o_{i}"), Some("orders"));
            if i < 8 {
                let user = Live {
                    value: J::Int(i as i64),
                    ts: 10 * i as u64,
                    seq: i as u64,
                };
                fields.extend(user.fields(&format!("u_{i}"), Some("users")));
            } else {
                fields
                    .extend(["key", "ts", "seq", "value"].map(|f| (format!("users.{f}"), J::Null)));
            }
            (format!("o_{i}"), fields)
        })
        .collect();
    let line = |op: Option<&str>, fields: &[(String, J)]| {
        let fields: Vec<(&str, J)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        op.map_or_else(|| obj(&fields), |op| op_line(op, &fields))
    };
    let rows: Vec<String> = want.iter().map(|(_, f)| line(Some("upsert"), f)).collect();
    let finals: Vec<String> = want.iter().map(|(_, f)| line(None, f)).collect();
    for (cfg, rec) in run_all(&plan, &muts) {
        assert_lines(&format!("{cfg:?} lj rows"), &rec.rows("lj"), &rows);
        assert_lines(
            &format!("{cfg:?} lj final"),
            &rec.sorted("lj", OutputKind::Final),
            &finals,
        );
    }
}

/// Two keys mapped to one row: the changelog carries both copies (one line each), and a
/// delete and an insert of the same row in one batch cancel, whatever the workers.
#[test]
fn table_map_changelog_keeps_duplicate_rows() {
    let plan = PlanBuilder::new()
        .pipeline(
            Pipeline::from_table("dup")
                .map([("prefix", "split_part(key, '_', 1)")])
                .with_final_state(),
        )
        .build()
        .unwrap();
    let muts = vec![
        // One batch: the row {"prefix":"a"} twice.
        Mut::put("a_1", 1, 100),
        Mut::put("a_2", 2, 100),
        // One copy goes.
        Mut::delete("a_1", 2000),
        Mut::put("b_1", 1, 3000),
        // One batch: a copy goes and another comes: no change.
        Mut::delete("a_2", 4000),
        Mut::put("a_3", 3, 4000),
    ];
    let a = || obj(&[("prefix", J::str("a"))]);
    let b = || obj(&[("prefix", J::str("b"))]);
    let changelog = |op: &str, row: String| format!("{{\"op\":\"{op}\",{}", &row[1..]);
    for (cfg, rec) in run_all(&plan, &muts) {
        assert_lines(
            &format!("{cfg:?} dup rows"),
            &rec.rows("dup"),
            &[
                changelog("upsert", a()),
                changelog("upsert", a()),
                changelog("delete", a()),
                changelog("upsert", b()),
            ],
        );
        assert_lines(
            &format!("{cfg:?} dup final"),
            &rec.sorted("dup", OutputKind::Final),
            &[a(), b()],
        );
    }
}

/// Table-view sessions: a key written and rewritten (or deleted) within one batch counts
/// once, with its last value (the batch's insert and retraction of the first row cancel).
#[test]
fn table_view_session_update_within_a_batch() {
    let muts = vec![
        // All in batch 0 (the watermark lags by 1000).
        Mut::put("a_1", 1, 100),
        Mut::put("a_1", 2, 150),
        Mut::put("b_1", 5, 120),
        Mut::delete("b_1", 130),
        Mut::put("c_1", 3, 200),
        Mut::put("x_1", 0, 5000),
    ];
    for batch_ms in [1, 500] {
        assert_eq!(&batch_stamps(&muts, 1000, batch_ms)[..5], &[0; 5]);
    }
    Expect::rows(
        "w",
        vec![
            row(150, 250, "a", 1, J::Int(2)),
            row(200, 300, "c", 1, J::Int(3)),
            row(5000, 5100, "x", 1, J::Int(0)),
        ],
    )
    .check(&table_plan(1000, Window::session(100)), &muts);
}

/// Table-view sessions: deleting the middle row of an open session splits it; a part that
/// ends before the current watermark is closed at birth and must still be emitted (as a
/// correction), not dropped with its on-time rows.
#[test]
fn table_view_session_split_part_closed_at_birth() {
    let muts = vec![
        Mut::put("a_1", 1, 100),
        Mut::put("a_2", 2, 1000),
        Mut::put("a_3", 4, 1900),
        // Watermark 1600: the session [100, 2900) is open, a part [100, 1100) would be closed.
        Mut::put("z_1", 0, 2600),
        Mut::delete("a_2", 2600),
        Mut::put("x_1", 0, 10_000),
    ];
    for batch_ms in [1, 500] {
        assert_eq!(
            &batch_stamps(&muts, 1000, batch_ms)[..5],
            &[0, 0, 900, 1600, 1600]
        );
    }
    Expect::rows(
        "w",
        vec![
            upsert(100, 1100, "a", 1, J::Int(1)),
            row(1900, 2900, "a", 1, J::Int(4)),
            row(2600, 3600, "z", 1, J::Int(0)),
            row(10_000, 11_000, "x", 1, J::Int(0)),
        ],
    )
    .check(&table_plan(1000, Window::session(1000)), &muts);
}

/// `flat_map` over list values, on both views; a global aggregate whose group empties is
/// deleted from the changelog.
#[test]
fn flat_map_and_an_emptied_global_group() {
    let list = |items: &[i64]| J::List(items.iter().map(|i| J::Int(*i)).collect());
    let plan = PlanBuilder::new()
        .pipeline(
            Pipeline::from_events("ev_items")
                .flat_map("item", "value")
                .group_by(["item"])
                .aggregate([Agg::count("n")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tb_items")
                .flat_map("item", "value")
                .group_by(["item"])
                .aggregate([Agg::count("n")])
                .with_final_state(),
        )
        .pipeline(
            Pipeline::from_table("tb_global")
                .filter("key = 'g_1'")
                .aggregate([Agg::count("n"), Agg::sum("total", "value")]),
        )
        .build()
        .unwrap();
    let muts = vec![
        Mut::put_j("a_1", list(&[1, 2]), 100),
        Mut::put_j("a_2", list(&[2, 3]), 200),
        Mut::put_j("a_1", list(&[5]), 300),
        Mut::put("g_1", 5, 400),
        Mut::delete("g_1", 2000),
    ];
    let counts = |pairs: &[(i64, i64)]| -> Vec<String> {
        pairs
            .iter()
            .map(|(item, n)| obj(&[("item", J::Int(*item)), ("n", J::Int(*n))]))
            .collect()
    };
    for (cfg, rec) in run_all(&plan, &muts) {
        assert_lines(
            &format!("{cfg:?} ev_items final"),
            &rec.sorted("ev_items", OutputKind::Final),
            &counts(&[(1, 1), (2, 2), (3, 1), (5, 1)]),
        );
        assert_lines(
            &format!("{cfg:?} tb_items final"),
            &rec.sorted("tb_items", OutputKind::Final),
            &counts(&[(2, 1), (3, 1), (5, 1)]),
        );
        let g = [("n", J::Int(1)), ("total", J::Int(5))];
        assert_lines(
            &format!("{cfg:?} tb_global"),
            &rec.rows("tb_global"),
            &[op_line("upsert", &g), op_line("delete", &g)],
        );
    }
}
