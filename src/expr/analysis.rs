//! Static questions about a compiled expression, for plans that narrow rows: which fields it
//! reads, and whether it can fail at run time given what its fields are known to hold.
//!
//! Both are conservative. The field set lists every position any node could read. The
//! failure test proves a few common forms safe (field references, literals, comparisons,
//! casts and string functions over values of a known kind) and answers "may fail" for
//! everything else.

use crate::schema::{Schema, Type};
use crate::value::Value;

use super::Expr;
use super::node::{CastTo, CmpOp, Func, Like, Node, Step};

/// What a value is known to be at run time. Every shape but `Bool`'s meaning includes NULL:
/// `Str` is "a string or NULL", `Int` "an integer or NULL", `Bool` "a boolean or NULL".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Str,
    Int,
    Bool,
    /// Anything.
    Any,
}

impl Shape {
    /// What a field of type `ty` holds, a JSON field taken to hold `json`.
    pub fn of(ty: Type, json: Shape) -> Shape {
        match ty {
            Type::Str => Shape::Str,
            Type::Int => Shape::Int,
            Type::Json => json,
            _ => Shape::Any,
        }
    }

    /// What field `i` of `schema` holds ([`Self::of`]); anything when there is no such field.
    pub fn of_field(schema: &Schema, i: usize, json: Shape) -> Shape {
        (schema.fields.get(i)).map_or(Shape::Any, |field| Shape::of(field.ty, json))
    }
}

impl Expr {
    /// Calls `read` with the position of every field the expression may read.
    pub fn fields_read(&self, read: &mut impl FnMut(usize)) {
        fields(&self.root, read);
    }

    /// The shape of the expression's value if evaluating it cannot fail when field `i` holds
    /// a value of shape `field(i)`; `None` when it may fail.
    pub fn infallible(&self, field: &impl Fn(usize) -> Shape) -> Option<Shape> {
        safe(&self.root, field)
    }
}

fn fields(node: &Node, read: &mut impl FnMut(usize)) {
    match node {
        Node::Field(i) => read(*i),
        Node::Lit(_) => {}
        Node::Path(base, steps) => {
            fields(base, read);
            for step in steps.iter() {
                if let Step::Dyn(node) = step {
                    fields(node, read);
                }
            }
        }
        Node::Neg(x) | Node::Not(x) | Node::Is(_, _, x) | Node::Text(x) => fields(x, read),
        Node::Cast { expr, .. } => fields(expr, read),
        Node::Arith(_, a, b)
        | Node::Cmp(_, a, b)
        | Node::Concat(a, b)
        | Node::Distinct(_, a, b) => fields_all([&**a, &**b], read),
        Node::And(list) | Node::Or(list) | Node::Call(_, list) => fields_all(list.iter(), read),
        Node::In { expr, list, .. } => {
            fields(expr, read);
            fields_all(list.iter(), read);
        }
        Node::Between {
            expr, low, high, ..
        } => fields_all([&**expr, &**low, &**high], read),
        Node::Like { expr, pattern, .. } => {
            fields(expr, read);
            if let Like::Dynamic { pattern, .. } = pattern {
                fields(pattern, read);
            }
        }
        Node::Case {
            operand,
            arms,
            default,
        } => {
            fields_all(operand.iter().chain(default.iter()).map(|n| &**n), read);
            fields_all(arms.iter().flat_map(|(when, then)| [when, then]), read);
        }
    }
}

fn fields_all<'a>(nodes: impl IntoIterator<Item = &'a Node>, read: &mut impl FnMut(usize)) {
    for node in nodes {
        fields(node, read);
    }
}

fn safe(node: &Node, field: &impl Fn(usize) -> Shape) -> Option<Shape> {
    match node {
        Node::Field(i) => Some(field(*i)),
        Node::Lit(v) => Some(shape_of(v)),
        Node::Cmp(op, a, b) => {
            let (a, b) = (safe(a, field)?, safe(b, field)?);
            let ordered = a == b && matches!(a, Shape::Str | Shape::Int);
            (matches!(op, CmpOp::Eq | CmpOp::Ne) || ordered).then_some(Shape::Bool)
        }
        Node::And(list) | Node::Or(list) => list
            .iter()
            .all(|n| safe(n, field) == Some(Shape::Bool))
            .then_some(Shape::Bool),
        Node::Not(x) => (safe(x, field)? == Shape::Bool).then_some(Shape::Bool),
        Node::Is(_, _, x) => safe(x, field).map(|_| Shape::Bool),
        Node::Cast { expr, to, lenient } => cast_safe(safe(expr, field)?, *to, *lenient),
        Node::Call(func, args) => call_safe(func, args, field),
        // NB: a key or an index that is not there, or a step into a scalar, gives NULL; only
        // a computed subscript can fail (on a value that is neither an int nor a string).
        Node::Path(base, steps) if steps.iter().all(|s| !matches!(s, Step::Dyn(_))) => {
            safe(base, field).map(|_| Shape::Any)
        }
        _ => None,
    }
}

fn shape_of(v: &Value) -> Shape {
    match v {
        Value::Null => Shape::Any,
        Value::Str(_) => Shape::Str,
        Value::Int(_) => Shape::Int,
        Value::Bool(_) => Shape::Bool,
        _ => Shape::Any,
    }
}

/// `CAST(x AS to)` of a value of shape `from`: a TRY_CAST never fails, nor does a cast to a
/// string or to the kind the value already has.
fn cast_safe(from: Shape, to: CastTo, lenient: bool) -> Option<Shape> {
    let target = match to {
        CastTo::Int => Shape::Int,
        CastTo::Str => Shape::Str,
        CastTo::Bool => Shape::Bool,
        CastTo::Float => Shape::Any,
    };
    let exact = matches!(
        (from, to),
        (Shape::Int, CastTo::Int | CastTo::Float | CastTo::Bool) | (_, CastTo::Str)
    ) || from == target;
    (lenient || exact).then_some(target)
}

/// String functions over strings with literal positions that cannot be out of range.
fn call_safe(func: &Func, args: &[Node], field: &impl Fn(usize) -> Shape) -> Option<Shape> {
    let shapes: Vec<Shape> = args.iter().map(|a| safe(a, field)).collect::<Option<_>>()?;
    let strings = |n: usize| shapes.len() == n && shapes.iter().all(|s| *s == Shape::Str);
    let literal_int = |i: usize| match args.get(i) {
        Some(Node::Lit(Value::Int(n))) => Some(*n),
        _ => None,
    };
    match func {
        Func::Lower | Func::Upper | Func::Trim(_) if strings(shapes.len()) => Some(Shape::Str),
        Func::Replace if strings(3) => Some(Shape::Str),
        Func::StartsWith | Func::EndsWith if strings(2) => Some(Shape::Bool),
        Func::RegexpLike(_) if strings(1) => Some(Shape::Bool),
        Func::Length if strings(1) => Some(Shape::Int),
        Func::Concat => Some(Shape::Str),
        Func::SplitPart | Func::SplitPartByte(..) => {
            let text = shapes.first() == Some(&Shape::Str) && shapes.get(1) == Some(&Shape::Str);
            (text && literal_int(2).is_some_and(|n| n != 0)).then_some(Shape::Str)
        }
        Func::Substr => {
            let text = shapes.first() == Some(&Shape::Str) && literal_int(1).is_some();
            let len_ok = args.len() == 2 || literal_int(2).is_some_and(|n| n >= 0);
            (text && len_ok).then_some(Shape::Str)
        }
        _ => None,
    }
}
