//! Equi-joins, inner and left outer, incremental under updates and deletes.
//!
//! Table ⋈ table: an update on either side retracts the joined rows it changes. Events ⋈
//! table is a lookup at the event's time (as a stream-table join in Kafka Streams): an event
//! meets the table as it is at the event's batch's time `t`, its joined rows are final, and a
//! later change to the table does not rewrite joins already emitted; events are never kept.
//! Both are computed over hash maps of the sides' rows (`render::hash_join`).

use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::operators::Concat;

use crate::expr::Expr;
use crate::operators::fallible::{Lines, Outputs, RecordError, Rows, error_line, split_fallible};
use crate::plan::JoinKind;
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::hash_join::{JoinMode, hash_join};
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

/// A side's rows keyed by their join key. Keys and rows carry their hashes, so the hash maps
/// that keep them mostly compare integers (see `render::hashed_row`).
pub(super) type Keyed<'scope> = VecCollection<'scope, u64, KeyedRow, i64>;
pub(super) type KeyedRow = (HashedRow, HashedRow);

fn key_rows<'scope>(
    rows: Rows<'scope>,
    keys: Vec<Expr>,
    schema: Schema,
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
            out.ok.push(((key, HashedRow::by_first_field(row)), t, d));
        },
    );
    (keyed.as_collection(), errors)
}

pub(super) fn has_null(key: &HashedRow) -> bool {
    key.row.0.iter().any(Value::is_null)
}

pub fn render_join<'scope>(
    left: Rows<'scope>,
    right: Rows<'scope>,
    spec: JoinSpec,
) -> (Rows<'scope>, Lines<'scope>) {
    let right_width = spec.right_schema.len();
    let (left_keyed, left_errors) = key_rows(left, spec.left_keys, spec.left_schema, "left");
    let (right_keyed, right_errors) = key_rows(right, spec.right_keys, spec.right_schema, "right");
    let errors = left_errors.concat(right_errors);
    let mode = JoinMode {
        keep_left: !spec.left_append_only,
        pad_to: (spec.kind == JoinKind::LeftOuter).then_some(right_width),
    };
    (hash_join(left_keyed, right_keyed, mode), errors)
}
