//! Operator semantics on values: checked arithmetic, SQL comparison (numbers across Int and
//! Float, NULL gives NULL), casts and conversion to text. LIKE matching is in `like.rs`.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::value::{F64, Value};

use super::EvalError;
use super::node::{ArithOp, CastTo, CmpOp};

/// A value computed from a row: borrowed from the row or the expression where possible.
pub(crate) type Val<'r> = Cow<'r, Value>;

/// `a op b`: NULL if either is NULL; Int op Int is checked Int arithmetic; otherwise Float.
pub(crate) fn arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Int(x), Value::Int(y)) => int_arith(op, *x, *y).map(Value::Int),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => float_arith(op, x, y).map(|f| Value::Float(F64(f))),
            _ => Err(EvalError::new(format!(
                "cannot apply `{}` to {} and {}",
                op.symbol(),
                a.type_name(),
                b.type_name()
            ))),
        },
    }
}

pub(crate) fn int_arith(op: ArithOp, x: i64, y: i64) -> Result<i64, EvalError> {
    if y == 0 && matches!(op, ArithOp::Div | ArithOp::Rem) {
        return Err(EvalError::new("division by zero"));
    }
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => x.checked_div(y),
        ArithOp::Rem => x.checked_rem(y),
    };
    r.ok_or_else(|| EvalError::new(format!("integer overflow in {x} {} {y}", op.symbol())))
}

pub(crate) fn float_arith(op: ArithOp, x: f64, y: f64) -> Result<f64, EvalError> {
    if y == 0.0 && matches!(op, ArithOp::Div | ArithOp::Rem) {
        return Err(EvalError::new("division by zero"));
    }
    Ok(match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Rem => x % y,
    })
}

/// Unary minus.
pub(crate) fn negate(v: &Value) -> Result<Value, EvalError> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Int(i) => i
            .checked_neg()
            .map(Value::Int)
            .ok_or_else(|| EvalError::new(format!("integer overflow in -({i})"))),
        Value::Float(f) => Ok(Value::Float(F64(-f.0))),
        other => Err(EvalError::new(format!(
            "cannot negate {}",
            other.type_name()
        ))),
    }
}

/// Compares an integer with a float exactly (no rounding of large integers).
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less; // NaN sorts above every number, as with `total_cmp`.
    }
    // 2^63 is exactly representable; every i64 lies in [-2^63, 2^63).
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    // `t` is integral and in range, so the cast is exact.
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// SQL equality: NULL if either side is NULL; numbers compare numerically; values of
/// different kinds are not equal.
pub(crate) fn sql_eq(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => {
            Some(cmp_int_float(*i, f.0) == Ordering::Equal)
        }
        (Value::Float(x), Value::Float(y)) => Some(x.0 == y.0 || (x.0.is_nan() && y.0.is_nan())),
        _ => Some(a == b),
    }
}

/// SQL ordering: NULL if either side is NULL; numbers compare numerically, strings
/// lexicographically; values of different kinds cannot be ordered.
pub(crate) fn sql_cmp(a: &Value, b: &Value) -> Result<Option<Ordering>, EvalError> {
    Ok(Some(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return Ok(None),
        (Value::Int(i), Value::Float(f)) => cmp_int_float(*i, f.0),
        (Value::Float(f), Value::Int(i)) => cmp_int_float(*i, f.0).reverse(),
        (Value::Float(x), Value::Float(y)) => x.0.partial_cmp(&y.0).unwrap_or_else(|| x.cmp(y)),
        _ if std::mem::discriminant(a) == std::mem::discriminant(b) => a.cmp(b),
        _ => {
            return Err(EvalError::new(format!(
                "cannot compare {} with {}",
                a.type_name(),
                b.type_name()
            )));
        }
    }))
}

/// `a op b` for a comparison operator, with SQL NULL semantics.
pub(crate) fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    Ok(compare_truth(op, a, b)?.map_or(Value::Null, Value::Bool))
}

/// [`compare`]'s answer before it is a value: `None` for NULL.
pub(crate) fn compare_truth(op: CmpOp, a: &Value, b: &Value) -> Result<Option<bool>, EvalError> {
    Ok(match op {
        CmpOp::Eq => sql_eq(a, b),
        CmpOp::Ne => sql_eq(a, b).map(|e| !e),
        _ => sql_cmp(a, b)?.map(|o| match op {
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        }),
    })
}

/// Appends the text form of a value: strings as they are, everything else as JSON.
pub(crate) fn push_text(v: &Value, out: &mut String) {
    match v {
        Value::Str(s) => out.push_str(s),
        other => other.write_json(out),
    }
}

/// The text form of a value (see [`push_text`]).
pub(crate) fn to_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => other.to_json_string(),
    }
}

/// Converts `v` for `CAST(v AS to)`. NULL casts to NULL.
pub(crate) fn cast(v: &Value, to: CastTo) -> Result<Value, EvalError> {
    let fail = || {
        EvalError::new(format!(
            "cannot cast {} {} to {}",
            v.type_name(),
            describe(v),
            cast_name(to)
        ))
    };
    Ok(match (to, v) {
        (_, Value::Null) => Value::Null,
        (CastTo::Int, Value::Int(_)) | (CastTo::Float, Value::Float(_)) => v.clone(),
        (CastTo::Bool, Value::Bool(_)) | (CastTo::Str, Value::Str(_)) => v.clone(),
        (CastTo::Int, Value::Float(f)) => float_to_int(f.0).ok_or_else(fail)?,
        (CastTo::Int, Value::Bool(b)) => Value::Int(i64::from(*b)),
        (CastTo::Int, Value::Str(s)) => {
            let s = s.trim();
            match s.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => return Err(fail()),
            }
        }
        (CastTo::Float, Value::Int(i)) => Value::Float(F64(*i as f64)),
        (CastTo::Float, Value::Bool(b)) => Value::Float(F64(if *b { 1.0 } else { 0.0 })),
        (CastTo::Float, Value::Str(s)) => match s.trim().parse::<f64>() {
            Ok(f) => Value::Float(F64(f)),
            Err(_) => return Err(fail()),
        },
        (CastTo::Str, other) => Value::from(to_text(other)),
        (CastTo::Bool, Value::Int(i)) => Value::Bool(*i != 0),
        (CastTo::Bool, Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Value::Bool(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Value::Bool(false),
            _ => return Err(fail()),
        },
        _ => return Err(fail()),
    })
}

/// A float rounded to the nearest integer (halves away from zero), if it is in range.
fn float_to_int(f: f64) -> Option<Value> {
    let r = f.round();
    // -2^63 is exact; 2^63 is the first float out of range.
    if r.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        Some(Value::Int(r as i64))
    } else {
        None
    }
}

pub(crate) fn cast_name(to: CastTo) -> &'static str {
    match to {
        CastTo::Int => "int",
        CastTo::Float => "float",
        CastTo::Str => "string",
        CastTo::Bool => "bool",
    }
}

/// A short rendering of a value for error messages, truncated if long.
pub(crate) fn describe(v: &Value) -> String {
    let mut s = v.to_json_string();
    if s.len() > 40 {
        let mut cut = 37;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}
