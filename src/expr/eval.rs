//! Evaluation of a compiled [`Node`] tree over a row.
//!
//! Values are returned as `Cow` so that field references, paths into them and literals are
//! borrowed from the row or the tree rather than cloned; only computed values are owned.

use std::borrow::Cow;

use crate::value::{Row, Value};

use super::EvalError;
use super::builtins;
use super::like::LikePattern;
use super::node::{ArithOp, CastTo, CmpOp, IsTest, Like, Node, Step};
use super::numbers::{self, number, value_of};
use super::ops::{self, Val};

static NULL: Value = Value::Null;

/// Evaluates `node` over `row`.
///
/// The leaves (a field, a literal) are most of the nodes evaluated, as the arguments of
/// calls and operators: they are borrowed in place, inlined where `eval` is called, and
/// only the other nodes go through the dispatch of [`eval_node`], whose frame is large.
#[inline(always)]
pub(crate) fn eval<'r>(node: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    match node {
        Node::Field(i) => Ok(Cow::Borrowed(row.get(*i))),
        Node::Lit(v) => Ok(Cow::Borrowed(v)),
        other => eval_node(other, row),
    }
}

/// Evaluates `node` as a filter predicate: true only when it is `true` (see
/// [`super::is_true`]).
///
/// A comparison of leaves — a field, a literal, or one key into a field (`value.name`) —
/// the commonest filter, is answered from the values in place: the general path builds the
/// operands' `Cow`s and the comparison's value only to test it, several times the work of
/// the comparison itself.
///
/// AND and OR of such comparisons are answered the same way, item by item as [`and`] and
/// [`or`] take them (the same order, the same stop, the same errors), without a value per
/// item; an operand that casts an integer to INT (`CAST(value.ts AS INT)` over an integer)
/// is read in place too, as the cast would give it back unchanged, and a comparison of
/// arithmetic is folded as numbers (`numbers.rs`).
pub(crate) fn predicate(node: &Node, row: &Row) -> Result<bool, EvalError> {
    match node {
        Node::Cmp(..) | Node::And(_) | Node::Or(_) => Ok(truth(node, row, "")? == Some(true)),
        _ => eval(node, row).map(|value| super::is_true(&value)),
    }
}

/// A condition's truth: `Some` of a boolean, `None` for NULL. Inside AND or OR (`op`), an
/// item that is not a boolean is the error [`and`] and [`or`] give.
fn truth(node: &Node, row: &Row, op: &str) -> Result<Option<bool>, EvalError> {
    match node {
        Node::Cmp(cmp, a, b) => {
            if let (Some(a), Some(b)) = (operand(a, row), operand(b, row)) {
                return ops::compare_truth(*cmp, a, b);
            }
            if let (Some(a), Some(b)) = (number(a, row), number(b, row)) {
                return ops::compare_truth(*cmp, &value_of(a), &value_of(b));
            }
        }
        Node::And(list) => return connective(list, row, "AND", false),
        Node::Or(list) => return connective(list, row, "OR", true),
        _ => {}
    }
    bool_of(&*eval(node, row)?, op)
}

/// Three-valued AND (`stops_at` false) or OR (`stops_at` true), left to right, as [`and`]
/// and [`or`] evaluate them.
fn connective(
    list: &[Node],
    row: &Row,
    op: &str,
    stops_at: bool,
) -> Result<Option<bool>, EvalError> {
    let mut unknown = false;
    for n in list {
        match truth(n, row, op)? {
            Some(b) if b == stops_at => return Ok(Some(stops_at)),
            Some(_) => {}
            None => unknown = true,
        }
    }
    Ok((!unknown).then_some(!stops_at))
}

/// A comparison's operand in place: a leaf, or an integer (or NULL) leaf cast to INT, which
/// the cast returns as it is.
fn operand<'r>(node: &'r Node, row: &'r Row) -> Option<&'r Value> {
    if let Node::Cast {
        expr,
        to: CastTo::Int,
        ..
    } = node
    {
        return leaf(expr, row).filter(|v| matches!(v, Value::Int(_) | Value::Null));
    }
    leaf(node, row)
}

/// The value of a leaf in place: a field, a literal, or one key into a field.
#[inline(always)]
pub(crate) fn leaf<'r>(node: &'r Node, row: &'r Row) -> Option<&'r Value> {
    match node {
        Node::Field(i) => Some(row.get(*i)),
        Node::Lit(v) => Some(v),
        Node::Path(base, steps) => match (&**base, &**steps) {
            (Node::Field(i), [Step::Key(key)]) => Some(row.get(*i).get_at(&key.name, &key.last_at)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether [`leaf`] reads `node` (for any row).
pub(crate) fn is_leaf(node: &Node) -> bool {
    match node {
        Node::Field(_) | Node::Lit(_) => true,
        Node::Path(base, steps) => matches!((&**base, &**steps), (Node::Field(_), [Step::Key(_)])),
        _ => false,
    }
}

/// Evaluates a node that is not a leaf.
///
/// Each arm hands off to a function and returns its result directly, which keeps this
/// recursive frame small in unoptimized builds.
#[inline(never)]
fn eval_node<'r>(node: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    match node {
        Node::Field(i) => Ok(Cow::Borrowed(row.get(*i))),
        Node::Lit(v) => Ok(Cow::Borrowed(v)),
        Node::Path(base, steps) => path(base, steps, row),
        Node::Neg(x) => neg(x, row),
        Node::Not(x) => not(x, row),
        Node::Arith(op, a, b) => arith(*op, a, b, row),
        Node::Cmp(op, a, b) => compare(*op, a, b, row),
        Node::Concat(a, b) => concat(a, b, row),
        Node::And(list) => and(list, row),
        Node::Or(list) => or(list, row),
        Node::Is(test, negated, x) => is(*test, *negated, x, row),
        Node::Distinct(negated, a, b) => distinct(*negated, a, b, row),
        Node::In {
            expr,
            list,
            negated,
        } => in_list(expr, list, *negated, row),
        Node::Between {
            expr,
            low,
            high,
            negated,
        } => between(expr, low, high, *negated, row),
        Node::Like {
            expr,
            pattern,
            negated,
        } => like(expr, pattern, *negated, row),
        Node::Case {
            operand,
            arms,
            default,
        } => case(operand.as_deref(), arms, default.as_deref(), row),
        Node::Cast { expr, to, lenient } => cast(expr, *to, *lenient, row),
        Node::Call(func, args) => builtins::call_eval(func, args, row, eval),
        Node::Text(x) => text(x, row),
    }
}

fn owned(v: Value) -> Val<'static> {
    Cow::Owned(v)
}

fn neg<'r>(x: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    ops::negate(&*eval(x, row)?).map(owned)
}

fn not<'r>(x: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    Ok(bool_or_null(bool_of(&*eval(x, row)?, "NOT")?.map(|b| !b)))
}

fn arith<'r>(op: ArithOp, a: &'r Node, b: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    if let (Some(x), Some(y)) = (number(a, row), number(b, row))
        && let Some(result) = numbers::arith(op, x, y)
    {
        return Ok(owned(value_of(result)));
    }
    ops::arith(op, &*eval(a, row)?, &*eval(b, row)?).map(owned)
}

fn compare<'r>(op: CmpOp, a: &'r Node, b: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    ops::compare(op, &*eval(a, row)?, &*eval(b, row)?).map(owned)
}

fn concat<'r>(a: &'r Node, b: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    let (a, b) = (eval(a, row)?, eval(b, row)?);
    if a.is_null() || b.is_null() {
        return Ok(Cow::Borrowed(&NULL));
    }
    let mut out = String::new();
    ops::push_text(&a, &mut out);
    ops::push_text(&b, &mut out);
    Ok(Cow::Owned(Value::from(out)))
}

fn is<'r>(test: IsTest, negated: bool, x: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    let v = eval(x, row)?;
    let hit = match test {
        IsTest::Null => v.is_null(),
        IsTest::True => matches!(*v, Value::Bool(true)),
        IsTest::False => matches!(*v, Value::Bool(false)),
    };
    Ok(Cow::Owned(Value::Bool(hit != negated)))
}

fn distinct<'r>(
    negated: bool,
    a: &'r Node,
    b: &'r Node,
    row: &'r Row,
) -> Result<Val<'r>, EvalError> {
    let (a, b) = (eval(a, row)?, eval(b, row)?);
    let same = match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => ops::sql_eq(&a, &b) == Some(true),
        _ => false,
    };
    Ok(Cow::Owned(Value::Bool(same == negated)))
}

fn between<'r>(
    x: &'r Node,
    low: &'r Node,
    high: &'r Node,
    negated: bool,
    row: &'r Row,
) -> Result<Val<'r>, EvalError> {
    let x = eval(x, row)?;
    let ge = ops::sql_cmp(&x, &*eval(low, row)?)?.map(|o| o.is_ge());
    let le = ops::sql_cmp(&x, &*eval(high, row)?)?.map(|o| o.is_le());
    let r = match (ge, le) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Ok(bool_or_null(r.map(|b| b != negated)))
}

fn cast<'r>(x: &'r Node, to: CastTo, lenient: bool, row: &'r Row) -> Result<Val<'r>, EvalError> {
    match ops::cast(&*eval(x, row)?, to) {
        Ok(c) => Ok(Cow::Owned(c)),
        Err(_) if lenient => Ok(Cow::Borrowed(&NULL)),
        Err(e) => Err(e),
    }
}

/// The text of a value (`->>`): strings as they are, NULL stays NULL, others as JSON.
fn text<'r>(x: &'r Node, row: &'r Row) -> Result<Val<'r>, EvalError> {
    let v = eval(x, row)?;
    Ok(match &*v {
        Value::Null | Value::Str(_) => v,
        other => Cow::Owned(Value::from(ops::to_text(other))),
    })
}

/// `Some(b)` for a boolean, `None` for NULL; an error naming `op` otherwise.
pub(crate) fn bool_of(v: &Value, op: &str) -> Result<Option<bool>, EvalError> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(EvalError::new(format!(
            "{op} expects a bool, got {}",
            other.type_name()
        ))),
    }
}

fn bool_or_null(b: Option<bool>) -> Val<'static> {
    match b {
        Some(b) => Cow::Owned(Value::Bool(b)),
        None => Cow::Borrowed(&NULL),
    }
}

/// Three-valued AND, left to right, stopping at the first false.
fn and<'r>(list: &'r [Node], row: &'r Row) -> Result<Val<'r>, EvalError> {
    let mut unknown = false;
    for n in list {
        match bool_of(&*eval(n, row)?, "AND")? {
            Some(false) => return Ok(Cow::Owned(Value::Bool(false))),
            Some(true) => {}
            None => unknown = true,
        }
    }
    Ok(bool_or_null((!unknown).then_some(true)))
}

/// Three-valued OR, left to right, stopping at the first true.
fn or<'r>(list: &'r [Node], row: &'r Row) -> Result<Val<'r>, EvalError> {
    let mut unknown = false;
    for n in list {
        match bool_of(&*eval(n, row)?, "OR")? {
            Some(true) => return Ok(Cow::Owned(Value::Bool(true))),
            Some(false) => {}
            None => unknown = true,
        }
    }
    Ok(bool_or_null((!unknown).then_some(false)))
}

/// Follows `steps` from `base`, staying borrowed when `base` is.
fn path<'r>(base: &'r Node, steps: &'r [Step], row: &'r Row) -> Result<Val<'r>, EvalError> {
    match eval(base, row)? {
        Cow::Borrowed(mut v) => {
            for step in steps {
                v = step_into(v, step, row)?;
            }
            Ok(Cow::Borrowed(v))
        }
        Cow::Owned(v) => {
            let mut cur = &v;
            for step in steps {
                cur = step_into(cur, step, row)?;
            }
            Ok(Cow::Owned(cur.clone()))
        }
    }
}

/// One path step; a missing key, an out-of-range index or a scalar yields NULL.
fn step_into<'v>(v: &'v Value, step: &Step, row: &Row) -> Result<&'v Value, EvalError> {
    Ok(match step {
        Step::Key(key) => v.get_at(&key.name, &key.last_at),
        Step::Index(i) => index(v, *i),
        Step::Dyn(node) => match &*eval(node, row)? {
            Value::Int(i) => index(v, *i),
            Value::Str(k) => v.get(k),
            Value::Null => &NULL,
            other => {
                return Err(EvalError::new(format!(
                    "a subscript must be an int or a string, got {}",
                    other.type_name()
                )));
            }
        },
    })
}

fn index(v: &Value, i: i64) -> &Value {
    match v {
        Value::List(items) => usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .unwrap_or(&NULL),
        _ => &NULL,
    }
}

/// `x [NOT] IN (list)` with SQL NULL semantics.
fn in_list<'r>(x: &Node, list: &[Node], negated: bool, row: &'r Row) -> Result<Val<'r>, EvalError> {
    let x = eval(x, row)?;
    if x.is_null() {
        return Ok(Cow::Borrowed(&NULL));
    }
    let mut saw_null = false;
    for item in list {
        match ops::sql_eq(&x, &*eval(item, row)?) {
            Some(true) => return Ok(Cow::Owned(Value::Bool(!negated))),
            Some(false) => {}
            None => saw_null = true,
        }
    }
    Ok(if saw_null {
        Cow::Borrowed(&NULL)
    } else {
        Cow::Owned(Value::Bool(negated))
    })
}

fn like<'r>(x: &Node, pattern: &Like, negated: bool, row: &'r Row) -> Result<Val<'r>, EvalError> {
    let x = eval(x, row)?;
    let text = match &*x {
        Value::Null => return Ok(Cow::Borrowed(&NULL)),
        Value::Str(s) => &**s,
        other => {
            return Err(EvalError::new(format!(
                "LIKE expects a string, got {}",
                other.type_name()
            )));
        }
    };
    let hit = match pattern {
        Like::Static(p) => p.matches(text),
        Like::Dynamic {
            pattern,
            escape,
            case_insensitive,
        } => match &*eval(pattern, row)? {
            Value::Null => return Ok(Cow::Borrowed(&NULL)),
            Value::Str(p) => LikePattern::new(p, *escape, *case_insensitive)
                .map_err(EvalError::new)?
                .matches(text),
            other => {
                return Err(EvalError::new(format!(
                    "a LIKE pattern must be a string, got {}",
                    other.type_name()
                )));
            }
        },
    };
    Ok(Cow::Owned(Value::Bool(hit != negated)))
}

fn case<'r>(
    operand: Option<&'r Node>,
    arms: &'r [(Node, Node)],
    default: Option<&'r Node>,
    row: &'r Row,
) -> Result<Val<'r>, EvalError> {
    let operand = operand.map(|o| eval(o, row)).transpose()?;
    for (when, then) in arms {
        let w = eval(when, row)?;
        let hit = match &operand {
            Some(o) => ops::sql_eq(o, &w) == Some(true),
            None => bool_of(&w, "CASE WHEN")? == Some(true),
        };
        if hit {
            return eval(then, row);
        }
    }
    match default {
        Some(d) => eval(d, row),
        None => Ok(Cow::Borrowed(&NULL)),
    }
}
