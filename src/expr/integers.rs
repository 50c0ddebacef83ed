//! Integer expressions answered without values: `CAST(value.auction AS INT) % 123 = 0`.
//!
//! The general evaluation builds a `Cow<Value>` and a `Result` at every node and dispatches
//! each through `eval_node`'s large frame: a Nexmark q2 filter (a cast, a remainder and an
//! equality) took about 690 instructions a bid. Here a tree of integer leaves, casts to INT
//! and `+ - * / %` is folded straight to an `i64` (or SQL NULL).
//!
//! Decision: this path only ever answers what the general one would, and hands over
//! otherwise. Whenever a leaf is not an integer or NULL, or an operation would overflow or
//! divide by zero (an error there), it answers `None` and the caller evaluates the whole
//! node the general way, which then gives the result or the error exactly as before. Both
//! operands are folded before they are combined, as the general path evaluates both before
//! it looks for NULL, so an error on either side is never hidden by a NULL on the other.

use crate::value::{Row, Value};

use super::eval::leaf;
use super::node::{ArithOp, CastTo, Node};
use super::ops;

/// The integer `node` is over `row`: `Some(Some(i))`, `Some(None)` for NULL, or `None` when
/// the general evaluation must answer (see the module doc).
pub(super) fn int_value(node: &Node, row: &Row) -> Option<Option<i64>> {
    match node {
        Node::Arith(op, a, b) => int_arith_or_null(*op, int_value(a, row)?, int_value(b, row)?),
        Node::Cast {
            expr,
            to: CastTo::Int,
            ..
        } => int_value(expr, row),
        other => match leaf(other, row)? {
            Value::Int(i) => Some(Some(*i)),
            Value::Null => Some(None),
            _ => None,
        },
    }
}

/// `x op y` as [`ops::arith`] gives it for integers and NULL, or `None` for its errors.
pub(super) fn int_arith_or_null(
    op: ArithOp,
    x: Option<i64>,
    y: Option<i64>,
) -> Option<Option<i64>> {
    match (x, y) {
        (Some(x), Some(y)) => ops::int_arith(op, x, y).ok().map(Some),
        _ => Some(None),
    }
}

/// `Value::Int`, or NULL.
pub(super) fn int_or_null(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Int)
}

#[cfg(test)]
mod tests {
    use crate::expr::Expr;
    use crate::schema::Schema;
    use crate::value::{Row, Value};

    const OPERANDS: [&str; 11] = [
        "0",
        "1",
        "-7",
        "123",
        "9223372036854775807",
        "-9223372036854775808",
        "null",
        "2.5",
        "\"12\"",
        "\"x\"",
        "true",
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
            .replace("value.y", "coalesce(value.y)");
        let (fast, slow) = (
            Expr::compile(text, &schema).unwrap(),
            Expr::compile(&general, &schema).unwrap(),
        );
        for row in rows {
            let describe = || format!("{text} over {:?}", row.0[4]);
            let (a, b) = (fast.eval(row), slow.eval(row));
            assert_eq!(
                a.map_err(|e| e.message),
                b.map_err(|e| e.message),
                "{}",
                describe()
            );
            let (a, b) = (fast.eval_predicate(row), slow.eval_predicate(row));
            assert_eq!(
                a.map_err(|e| e.message),
                b.map_err(|e| e.message),
                "{}",
                describe()
            );
        }
    }

    #[test]
    fn integer_arithmetic_answers_as_the_general_evaluation() {
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
