//! Filter, map and flat_map: row-at-a-time steps, each a fallible flat map.

use crate::expr::{Expr, is_true};
use crate::operators::fallible::{FlatMapFallible, Lines, RecordError, Rows};
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

fn record_error(message: String, row: &Row, schema: &Schema) -> RecordError {
    RecordError {
        message,
        record: row_json(row, schema),
    }
}

pub fn render_filter<'scope>(
    rows: Rows<'scope>,
    schema: &Schema,
    predicate: &Expr,
) -> (Rows<'scope>, Lines<'scope>) {
    let predicate = predicate.clone();
    let schema = schema.clone();
    let step = format!("Filter {}", predicate.text());
    rows.flat_map_fallible(step, move |row, out| match predicate.eval(&row) {
        Ok(value) => {
            if is_true(&value) {
                out.push(row);
            }
            Ok(())
        }
        Err(e) => Err(record_error(e.message, &row, &schema)),
    })
}

pub fn render_map<'scope>(
    rows: Rows<'scope>,
    schema: &Schema,
    fields: &[(String, Expr)],
) -> (Rows<'scope>, Lines<'scope>) {
    let exprs: Vec<Expr> = fields.iter().map(|(_, e)| e.clone()).collect();
    let schema = schema.clone();
    let step = format!(
        "Map {}",
        fields
            .iter()
            .map(|(n, e)| format!("{n} = {}", e.text()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    rows.flat_map_fallible(step, move |row, out| {
        let mut values = Vec::with_capacity(exprs.len());
        for expr in &exprs {
            match expr.eval(&row) {
                Ok(v) => values.push(v),
                Err(e) => return Err(record_error(e.message, &row, &schema)),
            }
        }
        out.push(Row(values));
        Ok(())
    })
}

pub fn render_flat_map<'scope>(
    rows: Rows<'scope>,
    schema: &Schema,
    expr: &Expr,
) -> (Rows<'scope>, Lines<'scope>) {
    let expr = expr.clone();
    let schema = schema.clone();
    let step = format!("FlatMap {}", expr.text());
    rows.flat_map_fallible(step, move |row, out| match expr.eval(&row) {
        Ok(Value::Null) => Ok(()),
        Ok(Value::List(items)) => {
            for item in items.iter().cloned() {
                let mut values = row.0.clone();
                values.push(item);
                out.push(Row(values));
            }
            Ok(())
        }
        Ok(other) => Err(record_error(
            format!("flat_map expects a list, got {}", other.type_name()),
            &row,
            &schema,
        )),
        Err(e) => Err(record_error(e.message, &row, &schema)),
    })
}
