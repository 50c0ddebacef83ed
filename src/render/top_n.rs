//! Top-N per partition (and its special case, deduplication): differential's `reduce` on the
//! partition key.
//!
//! *Prepare* evaluates each row's partition key and order keys (errors go to the error
//! output) and keys the row by its partition; the value is the order keys followed by the
//! row. The `reduce` then sees each partition's whole multiset of rows, sorts it by the order
//! keys and, for rows equal on those, by the whole row, and keeps the first `limit`. Because
//! the reduce recomputes a partition from its multiset, retractions are exact: removing a row
//! of the top promotes the next one, and the output does not depend on arrival order or on
//! the number of workers.

use std::cmp::Ordering;

use differential_dataflow::AsCollection;

use crate::expr::Expr;
use crate::operators::aggregate::compare_values;
use crate::operators::fallible::{Lines, Outputs, RecordError, Rows, error_line, split_fallible};
use crate::plan::OrderKey;
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

/// What render needs to know about one top-N node.
pub struct TopNSpec {
    pub schema: Schema,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderKey>,
    pub limit: usize,
    pub ranked: bool,
}

type Keyed = (Row, Row);
type KeyedStream<'scope> = timely::dataflow::Stream<'scope, u64, Vec<(Keyed, u64, i64)>>;

/// Renders a top-N node: prepare, then a reduce per partition.
pub fn render_top_n<'scope>(rows: Rows<'scope>, spec: TopNSpec) -> (Rows<'scope>, Lines<'scope>) {
    let descending: Vec<bool> = spec.order_by.iter().map(|o| o.descending).collect();
    let (limit, ranked, width) = (spec.limit, spec.ranked, spec.order_by.len());
    let (keyed, errors) = prepare(rows, spec);
    let ranked_rows = keyed.as_collection().reduce(
        move |_key, input: &[(&Row, i64)], output: &mut Vec<(Row, i64)>| {
            top(input, &descending, limit, ranked, output);
        },
    );
    let rows = ranked_rows.map(move |(_, value)| Row(value.0[width..].to_vec()));
    (rows, errors)
}

/// Each row keyed by its partition, its value the order keys then the row.
fn prepare<'scope>(rows: Rows<'scope>, spec: TopNSpec) -> (KeyedStream<'scope>, Lines<'scope>) {
    let step = "TopN".to_string();
    split_fallible(
        rows.inner,
        &step.clone(),
        move |(row, t, d): (Row, u64, i64), _, out: &mut Outputs<(Keyed, u64, i64)>| match evaluate(
            &spec, &row,
        ) {
            Ok((key, mut value)) => {
                value.extend(row.0);
                out.ok.push(((Row(key), Row(value)), t, d));
            }
            Err(message) if d > 0 => {
                let error = RecordError {
                    message,
                    record: row_json(&row, &spec.schema),
                };
                out.errors.push(error_line(&step, &error));
            }
            Err(_) => {}
        },
    )
}

/// A row's partition key and order keys.
fn evaluate(spec: &TopNSpec, row: &Row) -> Result<(Vec<Value>, Vec<Value>), String> {
    let eval = |e: &Expr| e.eval(row).map_err(|e| e.message);
    let key = spec
        .partition_by
        .iter()
        .map(eval)
        .collect::<Result<_, _>>()?;
    let order = spec
        .order_by
        .iter()
        .map(|o| eval(&o.expr))
        .collect::<Result<_, _>>()?;
    Ok((key, order))
}

/// The first `limit` rows of a partition's multiset, each copy of a repeated row counted
/// (and ranked) on its own; with `ranked`, the 1-based rank appended to each row.
fn top(
    input: &[(&Row, i64)],
    descending: &[bool],
    limit: usize,
    ranked: bool,
    output: &mut Vec<(Row, i64)>,
) {
    let mut live: Vec<(&Row, i64)> = input.iter().filter(|(_, d)| *d > 0).copied().collect();
    live.sort_by(|(a, _), (b, _)| compare(a, b, descending));
    let mut taken = 0usize;
    for (row, count) in live {
        if taken >= limit {
            break;
        }
        let copies = (count as usize).min(limit - taken);
        if ranked {
            for i in 0..copies {
                let mut values = row.0.clone();
                values.push(Value::Int((taken + i + 1) as i64));
                output.push((Row(values), 1));
            }
        } else {
            output.push(((*row).clone(), copies as i64));
        }
        taken += copies;
    }
}

/// Order keys first (each ascending or descending), then the whole row: a total order, so
/// ties are broken the same way on every run.
fn compare(a: &Row, b: &Row, descending: &[bool]) -> Ordering {
    for (i, desc) in descending.iter().enumerate() {
        let ord = compare_values(a.get(i), b.get(i));
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.cmp(b)
}
