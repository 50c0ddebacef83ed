//! An aggregate straight over a source is evaluated in the source's operator
//! (`render::fold::fold_source`, `render::reduce::prepare_source_sessions`). Each pipeline
//! here runs twice: over the source, and over a pipeline that passes the source's rows on
//! unchanged (`filter = "true"`), which keeps the source and the aggregate apart. Over puts,
//! updates, deletes and values that break the aggregate (casts of text, sums of maps), on the
//! events and the table view, with one and with two workers, both must give the same rows
//! and the same error lines. Aggregates over one source share each change's events row in
//! place (`render::source`), so they read it with every field any of them reads.

use std::fmt::Write as _;

use crate::support::{mixed_changes, run_flow_in, sorted_lines, tmp};

/// (name, source, steps) of each pipeline. The first reads only `value` and `ts`, the next
/// only `kind` and `ts` of the events, the next ones other fields: the events rows they share
/// in place must hold every field any of them reads, and the values of the expressions they
/// share only where those cannot fail.
const PIPELINES: [(&str, &str, &str); 8] = [
    (
        // An expression that fails on most values (a number is not a string): each row it
        // fails on is an error line, never a group.
        "value_parts",
        "events",
        r#"[[pipelines.steps]]
window = { kind = "tumbling", size = 1000 }
group_by = { part = "split_part(value, '_', 1)" }
aggregates = { n = "count(*)" }"#,
    ),
    (
        "kinds",
        "events",
        r#"[[pipelines.steps]]
window = { kind = "tumbling", size = 1000 }
group_by = { k = "kind" }
aggregates = { n = "count(*)" }"#,
    ),
    (
        "tumbling",
        "events",
        r#"[[pipelines.steps]]
filter = "key <> 'c_3'"
[[pipelines.steps]]
map = { prefix = "split_part(key, '_', 1)", ts = "ts", v = "CAST(value AS INT)" }
[[pipelines.steps]]
window = { kind = "tumbling", size = 1000 }
group_by = ["prefix"]
aggregates = { n = "count(*)", s = "sum(v)", a = "avg(v)" }"#,
    ),
    (
        "hopping",
        "events",
        r#"[[pipelines.steps]]
window = { kind = "sliding", size = 2000, slide = 500 }
group_by = { p = "split_part(key, '_', 1)" }
aggregates = { n = "count(*)", s = "sum(value)" }"#,
    ),
    (
        "sessions",
        "events",
        r#"[[pipelines.steps]]
window = { kind = "session", gap = 300 }
group_by = ["key"]
aggregates = { n = "count(*)", s = "sum(CAST(value AS INT))" }"#,
    ),
    (
        "session_rows",
        "events",
        r#"[[pipelines.steps]]
window = { kind = "session", gap = 300 }
group_by = { p = "split_part(key, '_', 1)" }
aggregates = { lo = "min(value)", hi = "max(CAST(value AS INT))" }"#,
    ),
    (
        "table_totals",
        "table",
        r#"[[pipelines.steps]]
group_by = { p = "split_part(key, '_', 1)" }
aggregates = { n = "count(*)", s = "sum(CAST(value AS INT))" }"#,
    ),
    (
        "table_sessions",
        "table",
        r#"[[pipelines.steps]]
window = { kind = "session", gap = 300 }
group_by = { p = "split_part(key, '_', 1)" }
aggregates = { n = "count(*)" }"#,
    ),
];

fn flow() -> String {
    let mut flow = String::from(
        "[sources.events]\nview = \"events\"\nmax_out_of_orderness = 200\n\n\
         [sources.table]\nview = \"table\"\nmax_out_of_orderness = 200\n",
    );
    for source in ["events", "table"] {
        let _ = write!(
            flow,
            "\n[[pipelines]]\nname = \"{source}_rows\"\nfrom = \"{source}\"\n\
             [[pipelines.steps]]\nfilter = \"true\"\n"
        );
    }
    for (name, source, steps) in PIPELINES {
        for (suffix, from) in [
            ("", source.to_string()),
            ("_apart", format!("{source}_rows")),
        ] {
            let _ = write!(
                flow,
                "\n[[pipelines]]\nname = \"{name}{suffix}\"\nfrom = \"{from}\"\n{steps}\n"
            );
        }
    }
    flow
}

#[test]
fn an_aggregate_evaluated_in_its_source_gives_what_it_gives_apart_from_it() {
    let dir = tmp();
    std::fs::write(dir.path().join("flow.toml"), flow()).expect("flow");
    std::fs::write(dir.path().join("input.jsonl"), mixed_changes()).expect("input");
    let (mut rows, mut error_lines) = (0, 0);
    for workers in ["1", "2"] {
        let out = run_flow_in(dir.path(), workers);
        for (name, _, _) in PIPELINES {
            for output in ["", ".errors", ".late"] {
                let file = |suffix: &str| out.path().join(format!("{name}{suffix}{output}.jsonl"));
                let (fused, apart) = (sorted_lines(&file("")), sorted_lines(&file("_apart")));
                assert_eq!(fused, apart, "{name}{output} with {workers} workers");
                match output {
                    "" => rows += fused.len(),
                    ".errors" => error_lines += fused.len(),
                    _ => assert!(fused.is_empty(), "{name}: no event is late"),
                }
            }
            let written = sorted_lines(&out.path().join(format!("{name}.jsonl")));
            assert!(!written.is_empty(), "{name} wrote no rows");
        }
    }
    assert!(rows > 500, "only {rows} rows");
    assert!(error_lines > 100, "only {error_lines} error lines");
}
