//! Equi-joins, inner and left outer, incremental under updates and deletes.
//!
//! Table ⋈ table is differential's `join`: an update on either side retracts the joined rows
//! it changes. Events ⋈ table is a lookup at the event's time (as a stream-table join in
//! Kafka Streams): each event is present for one instant — inserted at its batch's time `t`
//! and retracted at `t + 1` — and only the join's output at `t` is kept. Events therefore
//! never sit in an arrangement for longer than a batch, and a later change to the table does
//! not rewrite joins already emitted.

use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::operators::Concat;
use timely::dataflow::operators::vec::Filter;

use crate::expr::Expr;
use crate::operators::fallible::{Lines, Outputs, RecordError, Rows, error_line, split_fallible};
use crate::plan::JoinKind;
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::hashed_row::HashedRow;

use super::row_json;

pub struct JoinSpec {
    pub left_schema: Schema,
    pub right_schema: Schema,
    pub left_keys: Vec<Expr>,
    pub right_keys: Vec<Expr>,
    pub kind: JoinKind,
    pub left_append_only: bool,
}

/// A side's rows keyed by their join key; the value carries the time the row was stamped
/// with (for the instant lookup) or 0. Keys and rows carry their hashes, so the arrangements
/// compare them as integers (see `render::hashed_row`).
type Keyed<'scope> = VecCollection<'scope, u64, KeyedRow, i64>;
type KeyedRow = (HashedRow, (u64, HashedRow));

fn key_rows<'scope>(
    rows: Rows<'scope>,
    keys: Vec<Expr>,
    schema: Schema,
    instant: bool,
    side: &str,
) -> (Keyed<'scope>, Lines<'scope>) {
    let step = format!("Join key ({side})");
    let name = step.clone();
    let (keyed, errors) = split_fallible(
        rows.inner,
        &name,
        move |(row, t, d): (Row, u64, i64), _, out: &mut Outputs<(KeyedRow, u64, i64)>| {
            let mut key = Vec::with_capacity(keys.len());
            for expr in &keys {
                match expr.eval(&row) {
                    Ok(value) => key.push(value),
                    Err(e) => {
                        if d > 0 {
                            let error = RecordError {
                                message: e.message,
                                record: row_json(&row, &schema),
                            };
                            out.errors.push(error_line(&step, &error));
                        }
                        return;
                    }
                }
            }
            // SQL: a null key joins nothing (it still appears, padded, in a left outer join).
            let key = HashedRow::new(Row(key));
            let row = HashedRow::by_first_field(row);
            if instant {
                out.ok.push(((key.clone(), (t, row.clone())), t, d));
                out.ok.push(((key, (t, row)), t + 1, -d));
            } else {
                out.ok.push(((key, (0, row)), t, d));
            }
        },
    );
    (keyed.as_collection(), errors)
}

fn has_null(key: &HashedRow) -> bool {
    key.row.0.iter().any(Value::is_null)
}

pub fn render_join<'scope>(
    left: Rows<'scope>,
    right: Rows<'scope>,
    spec: JoinSpec,
) -> (Rows<'scope>, Lines<'scope>) {
    let instant = spec.left_append_only;
    let right_width = spec.right_schema.len();
    let (left_keyed, left_errors) =
        key_rows(left, spec.left_keys, spec.left_schema, instant, "left");
    let (right_keyed, right_errors) =
        key_rows(right, spec.right_keys, spec.right_schema, false, "right");
    let right_keyed = right_keyed.filter(|(key, _)| !has_null(key));
    let matched = left_keyed
        .clone()
        .filter(|(key, _)| !has_null(key))
        .join_map(right_keyed.clone(), |_key, (stamp, l), (_, r)| {
            let mut values = Vec::with_capacity(l.row.0.len() + r.row.0.len());
            values.extend(l.row.0.iter().cloned());
            values.extend(r.row.0.iter().cloned());
            (*stamp, Row(values))
        });
    let joined = match spec.kind {
        JoinKind::Inner => matched,
        JoinKind::LeftOuter => {
            let right_keys = right_keyed.map(|(key, _)| key).distinct_core::<i64>();
            let unmatched = left_keyed
                .antijoin(right_keys)
                .map(move |(_key, (stamp, l))| {
                    let mut values = l.row.0;
                    values.extend(std::iter::repeat_n(Value::Null, right_width));
                    (stamp, Row(values))
                });
            matched.concat(unmatched)
        }
    };
    let rows = if instant {
        joined
            .inner
            .filter(|((stamp, _), t, _)| stamp == t)
            .as_collection()
            .map(|(_, row)| row)
    } else {
        joined.map(|(_, row)| row)
    };
    let errors = left_errors.concat(right_errors);
    (rows, errors)
}
