//! The sides of an interval or a window join, prepared for their operator: each row keyed by
//! its join key, with the time the join reads from it, routed by the key.
//!
//! An interval join reads `ts`; a window join reads `window_start` and `window_end`, which
//! become the first two fields of its key (rows join only within one window), and the time
//! the window closes for the join, `window_end + 1` (a session's rows are emitted one past
//! its end, so this serves every window kind). A row the join could no longer treat as it
//! treats the others goes to the late output here, by a test of its own batch time: an
//! interval join's row whose `ts` is below its batch's watermark (its partners' state may be
//! gone), a window join's row that arrives after its window closed. A key with a null joins
//! nothing (SQL): such a row is dropped, except on the left of a LEFT JOIN, where it is kept
//! to come out unmatched. A key or time that cannot be computed is the row's error.

use timely::dataflow::Stream;

use crate::expr::Expr;
use crate::operators::fallible::{Lines, Outputs, RecordError, Rows, error_line, split_fallible3};
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

/// A prepared row: its key, the time the join reads (`ts`, or the window's close) and the row.
pub type Keyed = (Row, u64, Row);
pub type KeyedStream<'scope> = Stream<'scope, u64, Vec<(Keyed, u64, i64)>>;

/// What a join reads from one side's rows.
pub struct Side {
    pub keys: Vec<Expr>,
    /// `[ts]` (interval join) or `[window_start, window_end]` (window join).
    pub fields: Vec<usize>,
    pub schema: Schema,
    /// The step's name in error lines: `IntervalJoin (left)`, `WindowJoin (right)`.
    pub step: String,
    /// The left side of a LEFT JOIN: a row whose key has a null is kept (it matches nothing,
    /// since the right side drops such rows, and comes out with NULLs).
    pub keep_null_keys: bool,
}

/// Keys `rows` for the join; returns the keyed rows, the late lines and the error lines.
pub fn prepare<'scope>(
    rows: Rows<'scope>,
    side: Side,
) -> (KeyedStream<'scope>, Lines<'scope>, Lines<'scope>) {
    let name = side.step.clone();
    let names = side.schema.names();
    split_fallible3(
        rows.inner,
        &name,
        move |(row, t, d): (Row, u64, i64), _, out: &mut Outputs<(Keyed, u64, i64)>| match evaluate(
            &side, &row,
        ) {
            Ok(Some((_, time))) if is_late(&side, time, t) => {
                if d > 0 {
                    out.side.push(late_line(&row, &names));
                }
            }
            Ok(Some((key, time))) => out.ok.push(((key, time, row), t, d)),
            Ok(None) => {}
            Err(message) if d > 0 => {
                let error = RecordError {
                    message,
                    record: row_json(&row, &side.schema),
                };
                out.errors.push(error_line(&side.step, &error));
            }
            Err(_) => {}
        },
    )
}

/// Whether a row at batch time `t` is late for the join (see the module doc).
fn is_late(side: &Side, time: u64, t: u64) -> bool {
    match side.fields.len() {
        1 => time < t,
        _ => t > time,
    }
}

/// The row's key and join time; `None` when a key is null.
fn evaluate(side: &Side, row: &Row) -> Result<Option<(Row, u64)>, String> {
    let mut key = Vec::with_capacity(side.keys.len() + side.fields.len());
    let mut times = Vec::with_capacity(side.fields.len());
    for &field in &side.fields {
        let value = row.get(field);
        let name = &side.schema.fields[field].name;
        match value {
            Value::Int(n) if *n >= 0 => times.push(*n as u64),
            other => {
                return Err(format!(
                    "the join needs `{name}` to be a non-negative integer, got {}",
                    other.type_name()
                ));
            }
        }
        if side.fields.len() > 1 {
            key.push(value.clone());
        }
    }
    for expr in &side.keys {
        let value = expr.eval(row).map_err(|e| e.message)?;
        if value.is_null() && !side.keep_null_keys {
            return Ok(None);
        }
        key.push(value);
    }
    let time = match times.as_slice() {
        [ts] => *ts,
        [_, end] => end.saturating_add(1),
        _ => 0,
    };
    Ok(Some((Row(key), time)))
}

fn late_line(row: &Row, names: &[String]) -> String {
    let mut line = String::from("{\"late\":true,");
    row.write_json_fields(names, &mut line);
    line.push('}');
    line
}

/// The joined row: the left side's fields, then the right side's.
pub fn joined(left: &Row, right: &Row) -> Row {
    let mut values = Vec::with_capacity(left.0.len() + right.0.len());
    values.extend(left.0.iter().cloned());
    values.extend(right.0.iter().cloned());
    Row(values)
}
