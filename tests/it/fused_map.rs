//! An abelian aggregate reads through the map that ends its chain (`render::fold`): the
//! map's expressions it reads are evaluated over the map's input, and a row that fails goes
//! through the map and the aggregate as written, for its error line. Each pipeline here runs
//! twice, as written and with a `filter = "true"` after its map (which keeps the map as its
//! own step), over values that break the map (a cast of text), the aggregate (a sum of text or
//! of a map) and a map field nothing reads, on the events and the table view; both must give
//! the same rows, error lines and late lines, with one and with two workers.

use std::fmt::Write as _;

use crate::support::{mixed_changes, run_flow_in, sorted_lines, tmp};

/// (name, source, map, aggregate step) of each pipeline.
const PIPELINES: [(&str, &str, &str, &str); 6] = [
    (
        "tumbling",
        "events",
        r#"{ prefix = "split_part(key, '_', 1)", ts = "ts", v = "CAST(value AS INT)" }"#,
        r#"window = { kind = "tumbling", size = 1000 }
group_by = ["prefix"]
aggregates = { n = "count(*)", s = "sum(v)", a = "avg(v)" }"#,
    ),
    (
        "hopping",
        "events",
        r#"{ suffix = "split_part(key, '_', 2)", ts = "ts" }"#,
        r#"window = { kind = "sliding", size = 2000, slide = 500 }
group_by = ["suffix"]
aggregates = { n = "count(*)" }"#,
    ),
    (
        "sum_of_whatever",
        "events",
        r#"{ kind = "kind", p = "substr(key, 1, 1)", v = "value" }"#,
        r#"group_by = ["kind", "p"]
aggregates = { n = "count(*)", s = "sum(v)" }"#,
    ),
    (
        "unread_cast",
        "events",
        r#"{ p = "split_part(key, '_', 1)", unused = "CAST(value AS INT)" }"#,
        r#"group_by = ["p"]
aggregates = { n = "count(*)" }"#,
    ),
    (
        "table_cast",
        "table",
        r#"{ p = "split_part(key, '_', 1)", v = "CAST(value AS INT)", k = "key" }"#,
        r#"group_by = ["p"]
aggregates = { n = "count(*)", s = "sum(v)" }"#,
    ),
    (
        "table_sum_of_whatever",
        "table",
        r#"{ p = "lower(split_part(key, '_', 1))", v = "value" }"#,
        r#"group_by = ["p"]
aggregates = { s = "sum(v)", n = "count(v)" }"#,
    ),
];

fn flow() -> String {
    let mut flow = String::from(
        "[sources.events]\nview = \"events\"\nmax_out_of_orderness = 200\n\n\
         [sources.table]\nview = \"table\"\n",
    );
    for (name, from, map, aggregate) in PIPELINES {
        for (suffix, extra) in [("", ""), ("_unfused", "filter = \"true\"\n")] {
            let _ = write!(
                flow,
                "\n[[pipelines]]\nname = \"{name}{suffix}\"\nfrom = \"{from}\"\n\
                 [[pipelines.steps]]\nmap = {map}\n"
            );
            if !extra.is_empty() {
                let _ = write!(flow, "[[pipelines.steps]]\n{extra}");
            }
            let _ = write!(flow, "[[pipelines.steps]]\n{aggregate}\n");
        }
    }
    flow
}

/// The shared mixed changes and an event late past the bound.
fn input() -> String {
    let mut lines = mixed_changes();
    lines.push_str("{\"ts\":10,\"op\":\"put\",\"key\":\"a_late\",\"value\":1}\n");
    lines
}

#[test]
fn an_aggregate_read_through_its_map_gives_what_the_map_and_the_aggregate_give() {
    let dir = tmp();
    std::fs::write(dir.path().join("flow.toml"), flow()).expect("flow");
    std::fs::write(dir.path().join("input.jsonl"), input()).expect("input");
    let mut error_lines = 0;
    for workers in ["1", "2"] {
        let out = run_flow_in(dir.path(), workers);
        for (name, _, _, _) in PIPELINES {
            for output in ["", ".errors", ".late"] {
                let fused = sorted_lines(&out.path().join(format!("{name}{output}.jsonl")));
                let unfused =
                    sorted_lines(&out.path().join(format!("{name}_unfused{output}.jsonl")));
                assert_eq!(fused, unfused, "{name}{output} with {workers} workers");
                if output == ".errors" {
                    error_lines += fused.len();
                }
            }
            let rows = sorted_lines(&out.path().join(format!("{name}.jsonl")));
            assert!(!rows.is_empty(), "{name} wrote no rows");
        }
    }
    assert!(error_lines > 100, "only {error_lines} error lines");
}
