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
use crate::plan::{OrderKey, Ranking};
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

/// What render needs to know about one top-N node.
pub struct TopNSpec {
    pub schema: Schema,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderKey>,
    pub limit: usize,
    pub ranking: Ranking,
    pub ranked: bool,
}

pub type Keyed = (Row, Row);
pub type KeyedStream<'scope> = timely::dataflow::Stream<'scope, u64, Vec<(Keyed, u64, i64)>>;

/// Renders a top-N node: prepare, then a reduce per partition.
pub fn render_top_n<'scope>(rows: Rows<'scope>, spec: TopNSpec) -> (Rows<'scope>, Lines<'scope>) {
    let ranker = Ranker::of(&spec);
    let width = ranker.width;
    let (keyed, errors) = prepare(rows, spec);
    let ranked_rows = keyed.as_collection().reduce(
        move |_key, input: &[(&Row, i64)], output: &mut Vec<(Row, i64)>| ranker.rank(input, output),
    );
    let rows = ranked_rows.map(move |(_, value)| Row(value.0[width..].to_vec()));
    (rows, errors)
}

/// How a partition's rows are ranked: what a top-N keeps of a partition, whichever operator
/// holds its rows.
#[derive(Clone)]
pub struct Ranker {
    descending: Vec<bool>,
    /// The number of order keys in front of each row.
    pub width: usize,
    limit: usize,
    ranking: Ranking,
    ranked: bool,
}

impl Ranker {
    pub fn of(spec: &TopNSpec) -> Ranker {
        Ranker {
            descending: spec.order_by.iter().map(|o| o.descending).collect(),
            width: spec.order_by.len(),
            limit: spec.limit,
            ranking: spec.ranking,
            ranked: spec.ranked,
        }
    }

    /// The rows kept of one partition's multiset (order keys first, see [`prepare`]).
    pub fn rank(&self, input: &[(&Row, i64)], output: &mut Vec<(Row, i64)>) {
        let live = sorted_live(input, &self.descending);
        match self.ranking {
            Ranking::RowNumber => top_numbered(live, self.limit, self.ranked, output),
            shared => top_ranked(
                live,
                (self.width, shared == Ranking::Rank),
                self.limit,
                self.ranked,
                output,
            ),
        }
    }
}

/// Each row keyed by its partition, its value the order keys then the row.
pub fn prepare<'scope>(rows: Rows<'scope>, spec: TopNSpec) -> (KeyedStream<'scope>, Lines<'scope>) {
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

/// A partition's rows present (count above zero), in rank order.
fn sorted_live<'a>(input: &[(&'a Row, i64)], descending: &[bool]) -> Vec<(&'a Row, i64)> {
    let mut live: Vec<(&Row, i64)> = input.iter().filter(|(_, d)| *d > 0).copied().collect();
    live.sort_by(|(a, _), (b, _)| compare(a, b, descending));
    live
}

/// The first `limit` rows of a partition's multiset (`ROW_NUMBER`), each copy of a repeated
/// row counted (and numbered) on its own; with `ranked`, the 1-based number appended to
/// each row.
fn top_numbered(live: Vec<(&Row, i64)>, limit: usize, ranked: bool, output: &mut Vec<(Row, i64)>) {
    let mut taken = 0usize;
    for (row, count) in live {
        if taken >= limit {
            break;
        }
        let copies = (count as usize).min(limit - taken);
        if ranked {
            for i in 0..copies {
                output.push((with_rank(row, taken + i + 1), 1));
            }
        } else {
            output.push(((*row).clone(), copies as i64));
        }
        taken += copies;
    }
}

/// The rows ranked `limit` or better when rows equal on the first `width` values (the order
/// keys) share a rank: with `skips` (`RANK`) the rank after a tie is one more than the rows
/// before it, else (`DENSE_RANK`) one more than the tie's. Every copy of a row has its rank;
/// with `ranked`, the rank is appended to each row.
fn top_ranked(
    live: Vec<(&Row, i64)>,
    (width, skips): (usize, bool),
    limit: usize,
    ranked: bool,
    output: &mut Vec<(Row, i64)>,
) {
    let (mut before, mut ties, mut rank) = (0usize, 0usize, 0usize);
    let mut previous: Option<&Row> = None;
    for (row, count) in live {
        if !previous.is_some_and(|p| same_order(p, row, width)) {
            ties += 1;
            rank = if skips { before + 1 } else { ties };
        }
        if rank > limit {
            break;
        }
        let row_out = if ranked {
            with_rank(row, rank)
        } else {
            (*row).clone()
        };
        output.push((row_out, count));
        before += count as usize;
        previous = Some(row);
    }
}

fn with_rank(row: &Row, rank: usize) -> Row {
    let mut values = Vec::with_capacity(row.0.len() + 1);
    values.extend_from_slice(&row.0);
    values.push(Value::Int(rank as i64));
    Row(values)
}

/// Whether two rows are equal on their first `width` values (their order keys).
fn same_order(a: &Row, b: &Row, width: usize) -> bool {
    (0..width).all(|i| compare_values(a.get(i), b.get(i)) == Ordering::Equal)
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
