//! Window assignment without an aggregate (a window table function's rows): each row once
//! per tumbling or hopping window that holds its `ts`, with `window_start` and `window_end`
//! appended, as Flink's `TUMBLE(TABLE t, …)` gives them. A `ts` that is not an event time is
//! the row's error.

use crate::operators::fallible::{FlatMapFallible, Lines, RecordError, Rows};
use crate::operators::window::fixed::for_each_window;
use crate::operators::window::window_ts;
use crate::plan::WindowKind;
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

/// What render needs to know about one window assignment.
pub struct WindowRows {
    pub kind: WindowKind,
    pub ts_field: usize,
    pub schema: Schema,
}

/// Renders a window assignment: a flat map over rows.
pub fn render_window_rows(rows: Rows<'_>, spec: WindowRows) -> (Rows<'_>, Lines<'_>) {
    let (size, slide) = match spec.kind {
        WindowKind::Tumbling { size } => (size, size),
        WindowKind::Sliding { size, slide } => (size, slide),
        // NB: lowering refuses session windows without an aggregate.
        WindowKind::Session { gap } => (gap, gap),
    };
    let step = format!("Window {}", spec.schema.fields[spec.ts_field].name);
    rows.flat_map_fallible(step, move |row: Row, out: &mut Vec<Row>| {
        let ts = window_ts(row.get(spec.ts_field)).map_err(|message| RecordError {
            message,
            record: row_json(&row, &spec.schema),
        })?;
        for_each_window(ts, size, slide, |start, end| {
            let mut values = Vec::with_capacity(row.0.len() + 2);
            values.extend(row.0.iter().cloned());
            values.push(Value::Int(start as i64));
            values.push(Value::Int(end as i64));
            out.push(Row(values));
        });
        Ok(())
    })
}
