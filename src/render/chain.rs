//! Row-local steps (filter, map, flat_map) fused into the operator that consumes their rows.
//!
//! A pipeline's row-local steps do not need operators of their own: each one looks at a row
//! and produces zero or more rows. Rendering each as an operator cost a hop (a buffer, a
//! push, a schedule) and a fresh row per step, which profiles showed as a third of a simple
//! group-by. So render collects a run of such steps into a [`RowChain`], and the operator
//! that consumes its rows (the source, an aggregate's prepare, or one flat map when nothing
//! else can) runs the whole chain per row. Each step keeps its name and input schema, so
//! error lines are exactly those of separate operators.
//!
//! A map step's input row is not needed once its output is built, nor is a row a filter
//! drops, nor a row its consumer has read: its emptied buffer is kept in a pool per thread
//! and becomes a later map output or source row ([`spare`], [`recycle`], `value::row_pool`);
//! in steady state neither a source nor a map allocates a row.

use std::sync::Arc;

use crate::expr::Expr;
use crate::operators::fallible::{RecordError, error_line};
use crate::plan::Node;
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;
pub use crate::value::row_pool::{recycle, spare};

#[derive(Clone)]
enum StepKind {
    Filter(Expr),
    Map(Vec<Expr>),
    FlatMap(Expr),
}

/// One row-local step: what it does, its name in error lines, and its input schema.
#[derive(Clone)]
struct RowStep {
    kind: StepKind,
    name: String,
    schema: Schema,
}

/// A run of row-local steps, applied in order.
#[derive(Clone, Default)]
pub struct RowChain {
    steps: Arc<Vec<RowStep>>,
}

impl RowChain {
    /// Splits `node` into the first node below it that is not row-local, and the chain of
    /// row-local steps above that node (in the order they apply).
    pub fn split(node: &Node) -> (&Node, RowChain) {
        let mut steps = Vec::new();
        let mut current = node;
        loop {
            let (input, kind, name) = match current {
                Node::Filter { input, predicate } => (
                    input,
                    StepKind::Filter(predicate.own_copy()),
                    format!("Filter {}", predicate.text()),
                ),
                Node::Map { input, fields, .. } => (
                    input,
                    StepKind::Map(fields.iter().map(|(_, e)| e.own_copy()).collect()),
                    map_name(fields),
                ),
                Node::FlatMap { input, expr, .. } => (
                    input,
                    StepKind::FlatMap(expr.own_copy()),
                    format!("FlatMap {}", expr.text()),
                ),
                _ => break,
            };
            steps.push(RowStep {
                kind,
                name,
                schema: input.schema().clone(),
            });
            current = input;
        }
        steps.reverse();
        (
            current,
            RowChain {
                steps: Arc::new(steps),
            },
        )
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// When the last step is a map: the steps before it, that map alone, its expressions and
    /// its input schema.
    pub fn split_last_map(&self) -> Option<(RowChain, RowChain, Vec<Expr>, Schema)> {
        let (last, before) = self.steps.split_last()?;
        let StepKind::Map(exprs) = &last.kind else {
            return None;
        };
        let chain = |steps: &[RowStep]| RowChain {
            steps: Arc::new(steps.to_vec()),
        };
        Some((
            chain(before),
            chain(std::slice::from_ref(last)),
            exprs.clone(),
            last.schema.clone(),
        ))
    }

    /// The names of the steps, for operator names.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.steps.iter().map(|s| s.name.as_str()).collect();
        names.join(" | ")
    }

    /// Runs `row` through every step and hands each output row to `emit`. A step that fails
    /// on a row drops it; when `report` (an insertion), its error line goes to `errors`.
    pub fn apply(
        &self,
        row: Row,
        report: bool,
        emit: &mut impl FnMut(Row),
        errors: &mut Vec<String>,
    ) {
        self.apply_from(0, row, report, emit, errors);
    }

    fn apply_from(
        &self,
        index: usize,
        row: Row,
        report: bool,
        emit: &mut impl FnMut(Row),
        errors: &mut Vec<String>,
    ) {
        let Some(step) = self.steps.get(index) else {
            emit(row);
            return;
        };
        let message = match &step.kind {
            StepKind::Filter(predicate) => match predicate.eval_predicate(&row) {
                Ok(true) => {
                    self.apply_from(index + 1, row, report, emit, errors);
                    return;
                }
                Ok(false) => {
                    recycle(row);
                    return;
                }
                Err(e) => e.message,
            },
            StepKind::Map(exprs) => match map_row(exprs, &row) {
                Ok(mapped) => {
                    recycle(row);
                    self.apply_from(index + 1, mapped, report, emit, errors);
                    return;
                }
                Err(message) => message,
            },
            StepKind::FlatMap(expr) => match expr.eval(&row) {
                Ok(Value::Null) => return,
                Ok(Value::List(items)) => {
                    for item in items.iter() {
                        let mut values = row.0.clone();
                        values.push(item.clone());
                        self.apply_from(index + 1, Row(values), report, emit, errors);
                    }
                    return;
                }
                Ok(other) => format!("flat_map expects a list, got {}", other.type_name()),
                Err(e) => e.message,
            },
        };
        if report {
            let error = RecordError {
                message,
                record: row_json(&row, &step.schema),
            };
            errors.push(error_line(&step.name, &error));
        }
    }
}

fn map_row(exprs: &[Expr], row: &Row) -> Result<Row, String> {
    let mut values = spare();
    values.reserve(exprs.len());
    for expr in exprs {
        match expr.eval(row) {
            Ok(value) => values.push(value),
            Err(e) => {
                recycle(Row(values));
                return Err(e.message);
            }
        }
    }
    Ok(Row(values))
}

fn map_name(fields: &[(String, Expr)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(n, e)| format!("{n} = {}", e.text()))
        .collect();
    format!("Map {}", fields.join(", "))
}
