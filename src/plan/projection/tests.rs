//! Projections of the benchmark's pipelines, and of pipelines that must keep every field.

use std::path::Path;

use super::{Projection, source_projection};
use crate::dataflow_file::load_str;

const SOURCE: &str = "[sources.events]\nview = \"events\"\n";

/// The projection of the only pipeline of a file with `steps` over the events view.
fn projection(steps: &str) -> Option<Projection> {
    let text = format!("{SOURCE}[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n{steps}");
    let file = load_str(&text, "test.toml", Path::new(".")).expect("valid file");
    source_projection(&file.plan.pipelines[0].node)
}

fn keep(fields: &[usize]) -> Vec<bool> {
    (0..6).map(|i| fields.contains(&i)).collect()
}

#[test]
fn a_map_keeps_only_what_it_reads() {
    let p = projection(
        "[[pipelines.steps]]\nmap = { prefix = \"split_part(key, '_', 1)\", ts = \"ts\" }\n\
         [[pipelines.steps]]\nwindow = { kind = \"sliding\", size = 2000, slide = 500 }\n\
         group_by = [\"prefix\"]\naggregates = { count = \"count(*)\" }\n",
    )
    .expect("narrowed");
    assert_eq!(p.keep, keep(&[0, 1]));
    assert!(p.ints.is_empty() && !p.timed);
}

#[test]
fn a_cast_of_the_value_assumes_an_integer() {
    let p = projection(
        "[[pipelines.steps]]\nmap = { prefix = \"split_part(key, '_', 1)\", ts = \"ts\", \
         v = \"CAST(value AS INT)\" }\n",
    )
    .expect("narrowed");
    assert_eq!(p.keep, keep(&[0, 1, 4]));
    assert_eq!(p.ints, vec![4]);
}

#[test]
fn a_window_over_the_source_checks_its_ts() {
    let p = projection(
        "[[pipelines.steps]]\nwindow = { kind = \"session\", gap = 500 }\n\
         group_by = [\"key\"]\naggregates = { count = \"count(*)\" }\n",
    )
    .expect("narrowed");
    assert_eq!(p.keep, keep(&[0, 1]));
    assert!(p.timed);
}

#[test]
fn a_filter_reads_only_its_fields() {
    let p = projection(
        "[[pipelines.steps]]\nfilter = \"key = 'x'\"\n\
         [[pipelines.steps]]\nmap = { k = \"kind\" }\n",
    )
    .expect("narrowed");
    assert_eq!(p.keep, keep(&[0, 2]));
}

#[test]
fn rows_that_leave_the_pipeline_or_may_fail_are_whole() {
    // A filter's rows are the pipeline's output.
    assert_eq!(
        projection("[[pipelines.steps]]\nfilter = \"key = 'x'\"\n"),
        None
    );
    // A string in `value` fails the cast, and its error line shows the whole row.
    assert_eq!(
        projection("[[pipelines.steps]]\nmap = { v = \"CAST(lower(value) AS INT)\" }\n"),
        None
    );
    assert_eq!(
        projection("[[pipelines.steps]]\nmap = { v = \"value.amount / 2\" }\n"),
        None
    );
}

#[test]
fn a_row_that_breaks_an_assumption_is_built_whole() {
    use crate::value::{Row, Value};
    let p = Projection {
        keep: keep(&[0, 1, 4]),
        ints: vec![4],
        timed: true,
    };
    let row = |ts: i64, value: Value| {
        Row(vec![
            Value::from("k"),
            Value::Int(ts),
            Value::Null,
            Value::Null,
            value,
            Value::Null,
        ])
    };
    assert!(p.holds(&row(5, Value::Int(1))));
    assert!(p.holds(&row(5, Value::Null)));
    assert!(!p.holds(&row(5, Value::from("x"))));
    assert!(!p.holds(&row(i64::MAX, Value::Int(1))));
}
