//! Lowering of window assignment and of the two joins of event streams: the interval join
//! and the window join (see `render::interval_join` and `render::window_join`).
//!
//! Decision: both joins read append-only inputs and name their sides like the equi-join
//! (`<side>.<field>`), so a query reads their columns the same way. An interval join marks
//! the sources below both sides with a lateness bound of 0: a row behind the watermark goes
//! to the late output where it is read, never into the join, which is what makes the pairs
//! the join finds a function of the input alone (see `render::interval_join`).

use crate::change::time::MAX_EVENT_TS;
use crate::expr::Expr;
use crate::plan::{JoinKind, JoinSides, Node, Plan, WindowKind};
use crate::schema::{Field, Schema, Type};

use super::lower::{
    JoinOn, LowerError, Origin, Text, WindowSpec, compile, input_node, lower_window, mark_lateness,
    qualified,
};

/// `window = { … }` without aggregates: each row once per window, with its bounds.
pub(super) fn lower_window_rows(
    mut input: Node,
    kind: WindowKind,
    origin: Origin,
) -> Result<Node, LowerError> {
    if let WindowKind::Session { .. } = kind {
        return Err(LowerError::at(
            origin,
            "session windows need an aggregate: rows are assigned to tumbling or hopping windows only",
        ));
    }
    let spec = WindowSpec {
        kind,
        emission: Default::default(),
        allowed_lateness: 0,
    };
    let def = lower_window(&spec, input.schema(), origin)?;
    let mut schema = input.schema().clone();
    for name in ["window_start", "window_end"] {
        if schema.index_of(name).is_some() {
            return Err(LowerError::at(
                origin,
                format!("field `{name}` already exists"),
            ));
        }
        schema.fields.push(Field {
            name: name.into(),
            ty: Type::Int,
        });
    }
    mark_lateness(&mut input, 0);
    Ok(Node::Window {
        input: Box::new(input),
        kind,
        ts_field: def.ts_field,
        schema,
    })
}

/// An interval join: `left.ts - right.ts` within `[lower, upper]`, both sides event streams.
pub(super) fn lower_interval_join(
    plan: &Plan,
    left: Node,
    from: &Text,
    on: &JoinOn,
    (lower, upper): (i64, i64),
    kind: JoinKind,
) -> Result<Node, LowerError> {
    let right = input_node(plan, &on.with)?;
    for (node, name) in [(&left, from), (&right, &on.with)] {
        if !node.is_append_only() {
            return Err(LowerError::at(
                name.origin,
                format!(
                    "`{}` is not an event stream: an interval join reads two append-only inputs (the events view, or steps over it)",
                    name.text
                ),
            ));
        }
    }
    let bound = MAX_EVENT_TS as i64;
    if lower > upper || lower < -bound || upper > bound {
        return Err(LowerError::at(
            on.origin,
            format!(
                "an interval join needs lower <= upper, each within ±{bound} ms, got [{lower}, {upper}]"
            ),
        ));
    }
    let mut sides = join_sides(left, right, from, on, &["ts"])?;
    mark_lateness(&mut sides.left, 0);
    mark_lateness(&mut sides.right, 0);
    let schema = joined_schema(&sides);
    Ok(Node::IntervalJoin {
        join: Box::new(sides),
        lower,
        upper,
        kind,
        schema,
    })
}

/// A window join: equal `window_start`, `window_end` and keys.
pub(super) fn lower_window_join(
    plan: &Plan,
    left: Node,
    from: &Text,
    on: &JoinOn,
    kind: JoinKind,
) -> Result<Node, LowerError> {
    let right = input_node(plan, &on.with)?;
    let sides = join_sides(left, right, from, on, &["window_start", "window_end"])?;
    let schema = joined_schema(&sides);
    Ok(Node::WindowJoin {
        join: Box::new(sides),
        kind,
        schema,
    })
}

/// Both sides, their keys compiled, and the positions of `fields` in each.
fn join_sides(
    left: Node,
    right: Node,
    from: &Text,
    on: &JoinOn,
    fields: &[&str],
) -> Result<JoinSides, LowerError> {
    if on.left_on.len() != on.right_on.len() {
        return Err(LowerError::at(
            on.origin,
            "a join needs as many `left_on` as `right_on` expressions",
        ));
    }
    if from.text == on.with.text {
        return Err(LowerError::at(
            on.with.origin,
            "a join of an input with itself is not supported (join a view of it)",
        ));
    }
    let left_fields = positions(left.schema(), fields, from)?;
    let right_fields = positions(right.schema(), fields, &on.with)?;
    let left_keys = compile_all(&on.left_on, left.schema())?;
    let right_keys = compile_all(&on.right_on, right.schema())?;
    Ok(JoinSides {
        left,
        right,
        left_name: from.text.clone(),
        right_name: on.with.text.clone(),
        left_keys,
        right_keys,
        left_fields,
        right_fields,
    })
}

fn compile_all(texts: &[Text], schema: &Schema) -> Result<Vec<Expr>, LowerError> {
    texts.iter().map(|t| compile(t, schema)).collect()
}

/// The positions of `fields` in `schema`, or an error naming the input that lacks one.
fn positions(schema: &Schema, fields: &[&str], input: &Text) -> Result<Vec<usize>, LowerError> {
    fields
        .iter()
        .map(|f| {
            schema.index_of(f).ok_or_else(|| {
                let needs = fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                LowerError::at(
                    input.origin,
                    format!(
                        "`{}` has no field `{f}`: this join needs {needs} on both sides",
                        input.text
                    ),
                )
            })
        })
        .collect()
}

fn joined_schema(sides: &JoinSides) -> Schema {
    let mut fields = qualified(&sides.left_name, sides.left.schema());
    fields.extend(qualified(&sides.right_name, sides.right.schema()));
    Schema { fields }
}
