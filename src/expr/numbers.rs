//! Arithmetic answered without values: `CAST(value.auction AS INT) % 123 = 0`,
//! `0.908 * CAST(value.price AS INT)`.
//!
//! The general evaluation builds a `Cow<Value>` and a `Result` at every node and dispatches
//! each through `eval_node`'s large frame: a Nexmark q2 filter (a cast, a remainder and an
//! equality) took about 690 instructions a bid. Here a tree of numeric leaves, casts to INT
//! or FLOAT and `+ - * / %` is folded straight to a number (or SQL NULL), integers as
//! integers and any mix with a float as floats, as `ops::arith` computes them.
//!
//! Decision: this path only ever answers what the general one would, and hands over
//! otherwise. Whenever a leaf is not a number or NULL, a cast would have to convert (a float
//! to INT rounds), or an operation would overflow or divide by zero (an error there), it
//! answers `None` and the caller evaluates the whole node the general way, which then gives
//! the result or the error exactly as before. Both operands are folded before they are
//! combined, as the general path evaluates both before it looks for NULL, so an error on
//! either side is never hidden by a NULL on the other.

use crate::value::{F64, Row, Value};

use super::eval::leaf;
use super::node::{ArithOp, CastTo, Node};
use super::ops;

/// A number folded from a tree, or SQL NULL. (`Option<Number>` is two words, returned in
/// registers; a number in an `Option` of its own would take three, through memory.)
#[derive(Clone, Copy, Debug)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
    Null,
}

/// The number `node` is over `row`, or `None` when the general evaluation must answer (see
/// the module doc).
pub(super) fn number(node: &Node, row: &Row) -> Option<Number> {
    match node {
        Node::Arith(op, a, b) => arith(*op, number(a, row)?, number(b, row)?),
        Node::Cast { expr, to, .. } => match (to, number(expr, row)?) {
            (_, Number::Null) => Some(Number::Null),
            (CastTo::Int, Number::Int(i)) => Some(Number::Int(i)),
            (CastTo::Float, Number::Int(i)) => Some(Number::Float(i as f64)),
            (CastTo::Float, Number::Float(f)) => Some(Number::Float(f)),
            _ => None,
        },
        other => match leaf(other, row)? {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(f) => Some(Number::Float(f.0)),
            Value::Null => Some(Number::Null),
            _ => None,
        },
    }
}

/// `x op y` as [`ops::arith`] gives it for numbers and NULL, or `None` for its errors.
pub(super) fn arith(op: ArithOp, x: Number, y: Number) -> Option<Number> {
    Some(match (x, y) {
        (Number::Null, _) | (_, Number::Null) => Number::Null,
        (Number::Int(x), Number::Int(y)) => Number::Int(ops::int_arith(op, x, y).ok()?),
        (Number::Int(x), Number::Float(y)) => float_arith(op, x as f64, y)?,
        (Number::Float(x), Number::Int(y)) => float_arith(op, x, y as f64)?,
        (Number::Float(x), Number::Float(y)) => float_arith(op, x, y)?,
    })
}

fn float_arith(op: ArithOp, x: f64, y: f64) -> Option<Number> {
    ops::float_arith(op, x, y).ok().map(Number::Float)
}

/// The value of a folded number.
pub(super) fn value_of(number: Number) -> Value {
    match number {
        Number::Int(i) => Value::Int(i),
        Number::Float(f) => Value::Float(F64(f)),
        Number::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::{EvalError, Expr};
    use crate::schema::Schema;
    use crate::value::{Row, Value};

    const OPERANDS: [&str; 15] = [
        "0",
        "1",
        "-7",
        "123",
        "9223372036854775807",
        "-9223372036854775808",
        "null",
        "2.5",
        "-0.0",
        "0.0",
        "1e300",
        "\"12\"",
        "\"x\"",
        "true",
        "[1]",
    ];

    fn row_of(x: &str, y: &str) -> Row {
        let value = Value::parse_json(&format!(r#"{{"x": {x}, "y": {y}}}"#)).unwrap();
        let mut row = crate::expr::tests::row();
        row.0[4] = value;
        row
    }

    /// `text`, and `text` with each leaf behind `coalesce(..)`, which only the general
    /// evaluation answers: equal results and equal errors, as values and as filters.
    fn agrees(text: &str, rows: &[Row]) {
        let schema = Schema::events();
        let general = text
            .replace("CAST(value.x AS INT)", "coalesce(CAST(value.x AS INT))")
            .replace("CAST(value.x AS FLOAT)", "coalesce(CAST(value.x AS FLOAT))")
            .replace("value.y", "coalesce(value.y)");
        let (fast, slow) = (
            Expr::compile(text, &schema).unwrap(),
            Expr::compile(&general, &schema).unwrap(),
        );
        for row in rows {
            let describe = format!("{text} over {:?}", row.0[4]);
            agree(fast.eval(row), slow.eval(row), &describe);
            agree(
                fast.eval_predicate(row),
                slow.eval_predicate(row),
                &describe,
            );
        }
    }

    /// The fast and general answers are the same, errors worded alike.
    fn agree<T: PartialEq + std::fmt::Debug>(
        fast: Result<T, EvalError>,
        slow: Result<T, EvalError>,
        describe: &str,
    ) {
        assert_eq!(
            fast.map_err(|e| e.message),
            slow.map_err(|e| e.message),
            "{describe}"
        );
    }
    #[test]
    fn arithmetic_answers_as_the_general_evaluation() {
        let rows: Vec<Row> = OPERANDS
            .iter()
            .flat_map(|x| OPERANDS.iter().map(move |y| row_of(x, y)))
            .collect();
        for op in ["+", "-", "*", "/", "%"] {
            let arith = format!("CAST(value.x AS INT) {op} value.y");
            agrees(&arith, &rows);
            agrees(&format!("({arith}) * 2 - CAST(value.x AS INT)"), &rows);
            // NB: a NULL on one side must not hide an error on the other.
            agrees(&format!("(({arith}) + value.y / 0) * 2"), &rows);
            agrees(
                &format!("value.y * 9223372036854775807 {op} CAST(value.x AS INT)"),
                &rows,
            );
            for cmp in ["=", "<>", "<", ">="] {
                agrees(&format!("{arith} {cmp} 0"), &rows);
                agrees(&format!("1 {cmp} ({arith}) % 5"), &rows);
                agrees(&format!("{arith} {cmp} value.y AND value.y {cmp} 1"), &rows);
            }
        }
    }
}
