//! Tests of the SQL front end's specs: what each statement and clause becomes, before
//! lowering (the integration tests run the shipped SQL files and check error positions).

use super::{SettingValue, SqlFile, parse};
use crate::plan::lower::{PipelineSpec, StepSpec};
use crate::plan::{AggFunc, Emission, JoinKind, View, WindowKind};

const SOURCES: &str =
    "CREATE SOURCE events FROM events WITH (max_out_of_orderness = INTERVAL '2' SECOND,
  key_regex = '^order_', kinds = 'insert, update');
CREATE SOURCE users FROM table;
";

fn file(statements: &str) -> SqlFile {
    parse(&format!("{SOURCES}{statements}")).unwrap_or_else(|e| panic!("{e:?}"))
}

fn pipeline(statements: &str) -> PipelineSpec {
    file(statements).pipelines.pop().expect("a pipeline")
}

fn join_on(on: &crate::plan::lower::JoinOn) -> String {
    let texts = |t: &[crate::plan::lower::Text]| {
        t.iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{} on {} = {}",
        on.with.text,
        texts(&on.left_on),
        texts(&on.right_on)
    )
}

/// Each step as a short text: its kind and its expressions or names.
fn shape(spec: &PipelineSpec) -> Vec<String> {
    spec.steps
        .iter()
        .map(|step| match step {
            StepSpec::Filter(t) => format!("filter {}", t.text),
            StepSpec::Map(fields) => format!(
                "map {}",
                fields
                    .iter()
                    .map(|(n, e)| format!("{}={}", n.text, e.text))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            StepSpec::FlatMap { name, .. } => format!("flat_map {}", name.text),
            StepSpec::Aggregate { group_by, aggs, .. } => format!(
                "aggregate {} | {}",
                group_by
                    .iter()
                    .map(|(n, e)| format!("{}={}", n.text, e.text))
                    .collect::<Vec<_>>()
                    .join(", "),
                aggs.iter()
                    .map(|a| format!("{}={}", a.name.text, a.func.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            StepSpec::Join {
                with,
                left_on,
                right_on,
                ..
            } => format!(
                "join {} on {} = {}",
                with.text,
                left_on
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                right_on
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            StepSpec::Window { kind, .. } => format!("window {kind:?}"),
            StepSpec::IntervalJoin {
                on, lower, upper, ..
            } => {
                format!("interval_join {} [{lower}, {upper}]", join_on(on))
            }
            StepSpec::WindowJoin { on, .. } => format!("window_join {}", join_on(on)),
            StepSpec::TopN {
                partition_by,
                order_by,
                limit,
                rank_field,
                ..
            } => format!(
                "top {limit} by {} order {} rank {}",
                partition_by
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                order_by
                    .iter()
                    .map(|o| format!("{}{}", o.expr.text, if o.descending { " desc" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(","),
                rank_field.as_ref().map_or("-", |r| r.text.as_str())
            ),
            StepSpec::Distinct { .. } => "distinct".to_string(),
            StepSpec::Union { with } => format!(
                "union {}",
                with.iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        })
        .collect()
}

#[test]
fn sources_take_their_view_and_options() {
    let f = file("INSERT INTO o SELECT * FROM events;");
    let events = &f.sources[0];
    assert_eq!(events.view, View::Events);
    assert_eq!(events.max_out_of_orderness, 2000);
    assert_eq!(
        events.key_regex.as_ref().map(|t| t.text.as_str()),
        Some("^order_")
    );
    assert_eq!(events.kinds.len(), 2);
    assert_eq!(f.sources[1].view, View::Table);
    assert!(
        f.pipelines[0].steps.is_empty(),
        "SELECT * has no projection"
    );
}

#[test]
fn a_projection_names_columns_by_alias_or_last_name() {
    let p = pipeline(
        "INSERT INTO o SELECT value.price, key AS k, ts FROM events WHERE value.price > 10",
    );
    assert_eq!(
        shape(&p),
        [
            "filter value.price > 10",
            "map price=value.price, k=key, ts=ts"
        ]
    );
    assert!(!p.internal && !p.final_state);
}

#[test]
fn an_aggregate_in_canonical_order_needs_no_projection() {
    let p = pipeline(
        "INSERT INTO o WITH (final_state = true)
         SELECT split_part(key, '_', 1) AS prefix, count(*) AS n, sum(CAST(value AS INT)) AS total
         FROM events GROUP BY split_part(key,'_',1)",
    );
    assert_eq!(
        shape(&p),
        ["aggregate prefix=split_part(key, '_', 1) | n=count, total=sum"]
    );
    assert!(p.final_state);
}

#[test]
fn another_select_order_projects_after_the_aggregate_and_having_filters_before() {
    let p = pipeline(
        "INSERT INTO o SELECT count(*) AS n, value.region FROM users
         GROUP BY value.region, key HAVING n > 1",
    );
    assert_eq!(
        shape(&p),
        [
            "aggregate region=value.region, key=key | n=count",
            "filter n > 1",
            "map n=\"n\", region=\"region\"",
        ]
    );
}

#[test]
fn having_may_repeat_an_aggregate_of_the_select_list() {
    let p = pipeline(
        "INSERT INTO o SELECT key, count(*) AS n, sum(value.x) FROM events GROUP BY key
         HAVING COUNT( * ) > 1 AND sum(value.x) < 5",
    );
    assert_eq!(
        shape(&p),
        [
            "aggregate key=key | n=count, sum=sum",
            "filter \"n\" > 1 AND \"sum\" < 5"
        ]
    );
}

#[test]
fn group_by_may_name_a_select_alias() {
    let p = pipeline(
        "INSERT INTO o SELECT split_part(key, '_', 1) AS p, count(*) AS n FROM events GROUP BY p",
    );
    assert_eq!(shape(&p), ["aggregate p=split_part(key, '_', 1) | n=count"]);
}

#[test]
fn aggregates_take_distinct_and_limits() {
    let p = pipeline(
        "INSERT INTO o SELECT key, count(DISTINCT value.x) AS d, collect(value.x, 5) AS c,
         first(value.x) AS f, last(value.x) AS l, avg(value.x) AS a FROM events GROUP BY key",
    );
    let StepSpec::Aggregate { aggs, .. } = &p.steps[0] else {
        panic!("an aggregate");
    };
    let funcs: Vec<AggFunc> = aggs.iter().map(|a| a.func).collect();
    assert_eq!(
        funcs,
        [
            AggFunc::CountDistinct,
            AggFunc::Collect { limit: 5 },
            AggFunc::First,
            AggFunc::Last,
            AggFunc::Avg
        ]
    );
}

#[test]
fn window_functions_become_windows_with_the_statement_options() {
    let p = pipeline(
        "INSERT INTO o WITH (emit = 'continuous', allowed_lateness = INTERVAL '1' MINUTE)
         SELECT window_start, window_end, count(*) AS n
         FROM HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECONDS, INTERVAL '1' MINUTE)
         GROUP BY window_start, window_end",
    );
    let StepSpec::Aggregate { window, .. } = &p.steps[0] else {
        panic!("an aggregate");
    };
    let window = window.expect("a window");
    assert_eq!(
        window.kind,
        WindowKind::Sliding {
            size: 60_000,
            slide: 5_000
        }
    );
    assert_eq!(window.emission, Emission::Continuous);
    assert_eq!(window.allowed_lateness, 60_000);
    assert_eq!(p.from.text, "events");
}

#[test]
fn a_session_partitions_by_its_group_keys() {
    let p = pipeline(
        "INSERT INTO o SELECT window_start AS s, window_end, key, count(*) AS n
         FROM SESSION(TABLE events PARTITION BY key, DESCRIPTOR(ts), 300)
         GROUP BY window_start, window_end, key",
    );
    assert_eq!(
        shape(&p),
        [
            "aggregate key=key | n=count",
            "map s=\"window_start\", window_end=\"window_end\", key=\"key\", n=\"n\"",
        ]
    );
}

#[test]
fn a_join_cuts_qualifiers_from_its_keys_and_moves_left_only_terms_before_it() {
    let p = pipeline(
        "INSERT INTO o SELECT events.key AS k, users.value.name AS name
         FROM events LEFT OUTER JOIN users ON users.key = CAST(events.value.user AS TEXT)
         WHERE events.value.amount > 10 AND users.value.vip AND events.ts > 5",
    );
    assert_eq!(
        shape(&p),
        [
            "filter value.amount > 10",
            "filter ts > 5",
            "join users on CAST(value.user AS TEXT) = key",
            "filter users.value.vip",
            "map k=events.key, name=users.value.name",
        ]
    );
    assert!(matches!(
        p.steps[2],
        StepSpec::Join {
            kind: JoinKind::LeftOuter,
            ..
        }
    ));
}

#[test]
fn a_where_with_or_at_the_top_stays_whole() {
    let p = pipeline(
        "INSERT INTO o SELECT events.key AS k FROM events JOIN users ON events.key = users.key
         WHERE events.ts > 1 AND users.ts < 9 OR events.ts = 20",
    );
    assert_eq!(
        shape(&p)[..2],
        [
            "join users on key = key",
            "filter events.ts > 1 AND users.ts < 9 OR events.ts = 20",
        ]
    );
}

#[test]
fn subqueries_and_views_are_internal_pipelines() {
    let f = file(
        "CREATE VIEW big AS SELECT key, ts FROM events WHERE value.amount > 10;
         INSERT INTO o SELECT key, count(*) AS n
         FROM (SELECT key FROM big) AS keys GROUP BY key;",
    );
    let names: Vec<(&str, &str, bool)> = f
        .pipelines
        .iter()
        .map(|p| (p.name.text.as_str(), p.from.text.as_str(), p.internal))
        .collect();
    assert_eq!(
        names,
        [
            ("big", "events", true),
            ("keys", "big", true),
            ("o", "keys", false)
        ]
    );
}

#[test]
fn settings_comments_and_a_missing_last_semicolon_are_fine() {
    let f = file(
        "-- a comment
         SET input.generate = 'nexmark'; /* another */ SET input.skew = 1.5;
         SET input.events TO 10;
         INSERT INTO o SELECT key FROM events",
    );
    let values: Vec<(&str, &SettingValue)> = f
        .settings
        .iter()
        .map(|s| (s.key.as_str(), &s.value))
        .collect();
    assert_eq!(
        values,
        [
            ("generate", &SettingValue::Str("nexmark".into())),
            ("skew", &SettingValue::Float(1.5)),
            ("events", &SettingValue::Int(10)),
        ]
    );
}

#[test]
fn offsets_inside_a_cut_text_map_back_to_the_file() {
    let text = format!(
        "{SOURCES}INSERT INTO o SELECT events.key AS k FROM events JOIN users ON events.value.a = users.key;"
    );
    let f = parse(&text).expect("parses");
    let StepSpec::Join { left_on, .. } = &f.pipelines[0].steps[0] else {
        panic!("a join");
    };
    let origin = left_on[0].origin.offset.expect("an offset");
    assert_eq!(left_on[0].text, "value.a");
    // `a` is at 6 in the cut text; in the file it follows `events.value.`.
    assert_eq!(&text[f.file_offset(origin + 6)..][..1], "a");
    assert_eq!(&text[origin..][..13], "events.value.");
}

#[test]
fn the_plan_of_a_view_says_it_is_internal() {
    let f = file(
        "CREATE VIEW big AS SELECT key, ts FROM events WHERE CAST(value AS INT) > 10;
         INSERT INTO o SELECT key, count(*) AS n FROM big GROUP BY key;",
    );
    let plan = crate::plan::lower::lower(&f.sources, &f.pipelines).expect("lowers");
    let text = crate::plan::explain::explain_text(&plan);
    assert!(
        text.contains("\npipeline big (internal) -> [key, ts]\n"),
        "{text}"
    );
    assert!(text.contains("\npipeline o -> [key, n]\n"), "{text}");
}

#[test]
fn a_numbered_subquery_kept_to_n_rows_is_a_top_n() {
    let f = file(
        "INSERT INTO o SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY key ORDER BY ts DESC, seq) AS rownum FROM events) WHERE rownum <= 3 AND key <> 'x';",
    );
    let [inner, outer] = f.pipelines.as_slice() else {
        panic!("two pipelines: {:?}", f.pipelines);
    };
    assert_eq!(inner.name.text, "o_sub1");
    assert!(inner.internal);
    assert_eq!(shape(inner), ["top 3 by key order ts desc,seq rank rownum"]);
    assert_eq!(outer.from.text, "o_sub1");
    assert_eq!(shape(outer), ["filter key <> 'x'"]);
}

#[test]
fn a_row_number_the_outer_query_does_not_read_is_not_a_column() {
    let f = file(
        "INSERT INTO o SELECT key, ts FROM (SELECT key, ts, ROW_NUMBER() OVER (PARTITION BY key ORDER BY ts) AS rn FROM events) AS firsts WHERE rn = 1;",
    );
    assert_eq!(f.pipelines[0].name.text, "firsts");
    assert_eq!(
        shape(&f.pipelines[0]),
        ["top 1 by key order ts rank -", "map key=key, ts=ts"]
    );
    let g = file(
        "INSERT INTO o SELECT key, rn FROM (SELECT key, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM events) WHERE rn < 3;",
    );
    assert_eq!(
        shape(&g.pipelines[0]),
        ["top 2 by  order ts rank rn", "map key=key, rn=\"rn\""]
    );
}

#[test]
fn distinct_group_by_without_aggregates_and_union_all() {
    let p =
        pipeline("INSERT INTO o SELECT DISTINCT split_part(key, '_', 1) AS prefix FROM events;");
    assert_eq!(
        shape(&p),
        ["map prefix=split_part(key, '_', 1)", "distinct"]
    );
    let p = pipeline("INSERT INTO o SELECT key FROM events GROUP BY key;");
    assert_eq!(shape(&p), ["aggregate key=key | "]);
    let f = file(
        "INSERT INTO o SELECT key FROM events WHERE ts > 1 UNION ALL SELECT key FROM store UNION ALL SELECT key FROM events;",
    );
    let names: Vec<&str> = f.pipelines.iter().map(|p| p.name.text.as_str()).collect();
    assert_eq!(names, ["o_union1", "o_union2", "o"]);
    assert_eq!(
        shape(&f.pipelines[2]),
        ["filter ts > 1", "map key=key", "union o_union1,o_union2"]
    );
}

#[test]
fn aggregates_take_a_filter() {
    let p = pipeline(
        "INSERT INTO o SELECT key, count(*) FILTER (WHERE ts > 5) AS late_ones, sum(ts) AS s FROM events GROUP BY key;",
    );
    let StepSpec::Aggregate { aggs, .. } = &p.steps[0] else {
        panic!("an aggregate: {:?}", p.steps);
    };
    let filters: Vec<Option<&str>> = aggs
        .iter()
        .map(|a| a.filter.as_ref().map(|f| f.text.as_str()))
        .collect();
    assert_eq!(filters, [Some("ts > 5"), None]);
    assert_eq!(aggs[0].name.text, "late_ones");
}

#[test]
fn interval_and_window_joins_lower_to_their_steps() {
    let sql = "CREATE SOURCE asks FROM events;
        INSERT INTO o SELECT bids.key AS k FROM bids JOIN asks ON bids.key = asks.key
        AND asks.ts BETWEEN bids.ts - INTERVAL '1' SECOND AND bids.ts + 250;";
    assert_eq!(
        shape(&pipeline(sql)),
        [
            "interval_join asks on key = key [-250, 1000]",
            "map k=bids.key"
        ]
    );
    let sql = "CREATE VIEW w AS SELECT window_start, window_end, count(*) AS n
          FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), 1000) GROUP BY window_start, window_end;
        INSERT INTO o SELECT bids.key AS k
        FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), 1000)
        JOIN w ON bids.window_end = w.window_end AND bids.window_start = w.window_start
        WHERE w.n > 1;";
    assert_eq!(
        shape(&pipeline(sql)),
        [
            "window Tumbling { size: 1000 }",
            "window_join w on  = ",
            "filter w.n > 1",
            "map k=bids.key"
        ]
    );
    // One window column alone is an ordinary key of an equi-join.
    let sql = "CREATE VIEW w AS SELECT window_start, window_end, count(*) AS n
          FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), 1000) GROUP BY window_start, window_end;
        INSERT INTO o SELECT w.n AS n FROM w JOIN users ON w.window_start = users.ts;";
    assert_eq!(
        shape(&pipeline(sql)),
        ["join users on window_start = ts", "map n=w.n"]
    );
}

#[test]
fn list_items_keep_their_offsets() {
    let items = super::statement::list_items(" log, webhook ,, x", 10);
    let expected = [("log", 11), ("webhook", 16), ("", 25), ("x", 27)];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(s, at)| (s.to_string(), *at))
        .collect();
    assert_eq!(items, expected);
}
