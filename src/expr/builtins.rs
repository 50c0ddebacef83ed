//! Evaluation of the built-in functions (see `functions.rs` for the catalogue and type
//! checks). Functions are strict — a NULL argument gives NULL — except `coalesce`, `concat`
//! (which skips NULLs, as in PostgreSQL) and `nullif`. String positions are 1-based chars.

use std::borrow::Cow;

use crate::value::{F64, Row, Value};

use super::EvalError;
use super::eval::leaf;
use super::intern;
use super::node::{Func, Node, Side};
use super::ops::{self, Val};

static NULL: Value = Value::Null;

/// Evaluates a call, its arguments with `eval` (only those a function needs: `coalesce`
/// stops at the first non-NULL one, a strict function at the first NULL).
pub(crate) fn call_eval<'r>(
    func: &'r Func,
    args: &'r [Node],
    row: &'r Row,
    eval: impl Fn(&'r Node, &'r Row) -> Result<Val<'r>, EvalError>,
) -> Result<Val<'r>, EvalError> {
    match func {
        Func::Coalesce => {
            for a in args {
                let v = eval(a, row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Cow::Borrowed(&NULL));
        }
        Func::Concat => {
            let mut out = String::new();
            for a in args {
                let v = eval(a, row)?;
                if !v.is_null() {
                    ops::push_text(&v, &mut out);
                }
            }
            return Ok(Cow::Owned(Value::from(out)));
        }
        Func::SplitPartByte(delim, index) => {
            return split_part_byte((*delim, *index), args, row, eval);
        }
        Func::NullIf => {
            let a = eval_arg(args, 0, row, &eval)?;
            let b = eval_arg(args, 1, row, &eval)?;
            return Ok(if ops::sql_eq(&a, &b) == Some(true) {
                Cow::Borrowed(&NULL)
            } else {
                a
            });
        }
        _ => {}
    }
    // Strict functions: any NULL argument gives NULL.
    let mut v: [Val<'r>; 3] = [
        Cow::Borrowed(&NULL),
        Cow::Borrowed(&NULL),
        Cow::Borrowed(&NULL),
    ];
    for (slot, a) in v.iter_mut().zip(args) {
        // NB: a leaf is borrowed straight into its slot. Through `eval` it came back in a
        // `Result` put together on the stack, and the copy out of it waited on the stores
        // that made it: a third of this function's time in `window_counts.toml`.
        *slot = match leaf(a, row) {
            Some(value) => Cow::Borrowed(value),
            None => eval(a, row)?,
        };
        if slot.is_null() {
            return Ok(Cow::Borrowed(&NULL));
        }
    }
    let n = args.len();
    let f = func.name();
    let out = match func {
        Func::Lower => match text(f, &v[0])? {
            s if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) => part_of(&v[0], s),
            s => Value::from(s.to_lowercase()),
        },
        Func::Upper => match text(f, &v[0])? {
            s if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_lowercase()) => part_of(&v[0], s),
            s => Value::from(s.to_uppercase()),
        },
        Func::Length => match &*v[0] {
            Value::Str(s) => Value::Int(len_i64(s.chars().count())),
            Value::List(l) => Value::Int(len_i64(l.len())),
            other => return Err(runtime_type(f, "a string or list", other)),
        },
        Func::Abs => match &*v[0] {
            Value::Int(i) => Value::Int(
                i.checked_abs()
                    .ok_or_else(|| EvalError::new(format!("integer overflow in abs({i})")))?,
            ),
            Value::Float(x) => Value::Float(F64(x.0.abs())),
            other => return Err(runtime_type(f, "a number", other)),
        },
        Func::Floor | Func::Ceil => match &*v[0] {
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) if matches!(func, Func::Floor) => Value::Float(F64(x.0.floor())),
            Value::Float(x) => Value::Float(F64(x.0.ceil())),
            other => return Err(runtime_type(f, "a number", other)),
        },
        Func::Round => {
            let digits = if n > 1 { int(f, &v[1])? } else { 0 };
            round(&v[0], digits)?
        }
        Func::Substr => {
            let s = text(f, &v[0])?;
            let start = int(f, &v[1])?;
            let len = if n > 2 { Some(int(f, &v[2])?) } else { None };
            part_of(&v[0], substr(s, start, len)?)
        }
        Func::Trim(side) => {
            let s = text(f, &v[0])?;
            let out = if n > 1 {
                let set = text(f, &v[1])?;
                let strip = |c: char| set.contains(c);
                match side {
                    Side::Both => s.trim_matches(strip),
                    Side::Leading => s.trim_start_matches(strip),
                    Side::Trailing => s.trim_end_matches(strip),
                }
            } else {
                match side {
                    Side::Both => s.trim(),
                    Side::Leading => s.trim_start(),
                    Side::Trailing => s.trim_end(),
                }
            };
            part_of(&v[0], out)
        }
        Func::Replace => {
            let (s, from, to) = (text(f, &v[0])?, text(f, &v[1])?, text(f, &v[2])?);
            if from.is_empty() {
                part_of(&v[0], s)
            } else {
                Value::from(s.replace(from, to))
            }
        }
        Func::StartsWith => Value::Bool(text(f, &v[0])?.starts_with(text(f, &v[1])?)),
        Func::EndsWith => Value::Bool(text(f, &v[0])?.ends_with(text(f, &v[1])?)),
        Func::SplitPart => {
            let (s, delim, i) = (text(f, &v[0])?, text(f, &v[1])?, int(f, &v[2])?);
            part_of(&v[0], split_part(s, delim, i)?)
        }
        Func::RegexpLike(re) => Value::Bool(re.is_match(text(f, &v[0])?)),
        // NB: handled above.
        Func::Coalesce | Func::Concat | Func::NullIf | Func::SplitPartByte(..) => Value::Null,
    };
    Ok(Cow::Owned(out))
}

/// `split_part(text, '<byte>', <position>)` with its literals resolved (see
/// `Func::SplitPartByte`): the same result and errors as the general call.
fn split_part_byte<'r>(
    (delim, index): (u8, usize),
    args: &'r [Node],
    row: &'r Row,
    eval: impl Fn(&'r Node, &'r Row) -> Result<Val<'r>, EvalError>,
) -> Result<Val<'r>, EvalError> {
    let Some(arg) = args.first() else {
        return Ok(Cow::Borrowed(&NULL));
    };
    let whole = match leaf(arg, row) {
        Some(value) => Cow::Borrowed(value),
        None => eval(arg, row)?,
    };
    match &*whole {
        Value::Null => Ok(Cow::Borrowed(&NULL)),
        Value::Str(s) => {
            let part = nth_byte_part(s, delim, index).unwrap_or("");
            Ok(Cow::Owned(part_of(&whole, part)))
        }
        other => Err(runtime_type("split_part", "a string", other)),
    }
}

fn eval_arg<'r>(
    args: &'r [Node],
    i: usize,
    row: &'r Row,
    eval: impl Fn(&'r Node, &'r Row) -> Result<Val<'r>, EvalError>,
) -> Result<Val<'r>, EvalError> {
    match args.get(i) {
        Some(a) => eval(a, row),
        None => Ok(Cow::Borrowed(&NULL)),
    }
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn runtime_type(f: &str, want: &str, got: &Value) -> EvalError {
    EvalError::new(format!("{f} expects {want}, got {}", got.type_name()))
}

fn text<'a>(f: &str, v: &'a Value) -> Result<&'a str, EvalError> {
    v.as_str().ok_or_else(|| runtime_type(f, "a string", v))
}

/// An integer argument; an integral float is accepted too.
fn int(f: &str, v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(x) if x.0.fract() == 0.0 && x.0.abs() < 9.0e18 => Ok(x.0 as i64),
        other => Err(runtime_type(f, "an int", other)),
    }
}

/// `round(x, digits)`, halves away from zero; negative digits round to tens, hundreds...
fn round(x: &Value, digits: i64) -> Result<Value, EvalError> {
    match x {
        Value::Int(i) if digits >= 0 => Ok(Value::Int(*i)),
        Value::Int(i) => {
            let Some(p) = u32::try_from(digits.unsigned_abs())
                .ok()
                .and_then(|d| 10i64.checked_pow(d))
            else {
                return Ok(Value::Int(0));
            };
            let (q, r) = (i / p, i % p);
            let q = if r.unsigned_abs() * 2 >= p.unsigned_abs() {
                q + i.signum()
            } else {
                q
            };
            q.checked_mul(p)
                .map(Value::Int)
                .ok_or_else(|| EvalError::new(format!("integer overflow in round({i}, {digits})")))
        }
        Value::Float(f) => {
            let f = f.0;
            let out = if digits == 0 {
                f.round()
            } else if digits > 15 || !f.is_finite() {
                f
            } else if digits < -308 {
                0.0
            } else {
                // Both powers are finite for |digits| <= 308.
                let p = 10f64.powi(digits.unsigned_abs() as i32);
                if digits > 0 {
                    (f * p).round() / p
                } else {
                    (f / p).round() * p
                }
            };
            Ok(Value::Float(F64(out)))
        }
        other => Err(runtime_type("round", "a number", other)),
    }
}

/// `part`, a part of the string value `whole`: `whole` itself when it is all of it (no
/// copy), else a string shared with equal short results (see `intern`).
fn part_of(whole: &Value, part: &str) -> Value {
    match whole {
        Value::Str(s) if s.len() == part.len() => Value::Str(s.clone()),
        _ => intern::str_value(part),
    }
}

/// PostgreSQL `substr`: chars `[start, start + len)`, 1-based, clipped to the string.
fn substr(s: &str, start: i64, len: Option<i64>) -> Result<&str, EvalError> {
    let end = match len {
        Some(l) if l < 0 => return Err(EvalError::new("negative substring length not allowed")),
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1);
    if end <= from {
        return Ok("");
    }
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - from).unwrap_or(usize::MAX);
    let byte_at = |s: &str, n: usize| s.char_indices().nth(n).map_or(s.len(), |(at, _)| at);
    let rest = &s[byte_at(s, skip)..];
    Ok(&rest[..byte_at(rest, take)])
}

/// PostgreSQL `split_part`: field `n` (1-based; negative counts from the end); '' if absent.
fn split_part<'a>(s: &'a str, delim: &str, n: i64) -> Result<&'a str, EvalError> {
    if n == 0 {
        return Err(EvalError::new(
            "split_part: field position must not be zero",
        ));
    }
    if delim.is_empty() {
        return Ok(if n == 1 || n == -1 { s } else { "" });
    }
    let mut chars = delim.chars();
    let single = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    let part = match (n > 0, single) {
        (true, Some(c)) if c.is_ascii() => nth_ascii_part(s, c as u8, n - 1),
        (true, Some(c)) => nth_part(s.split(c), n - 1),
        (true, None) => nth_part(s.split(delim), n - 1),
        (false, Some(c)) => nth_part(s.rsplit(c), -(n + 1)),
        (false, None) => nth_part(s.rsplit(delim), -(n + 1)),
    };
    Ok(part.unwrap_or(""))
}

/// The `index`th part of `s` split at the ASCII byte `delim`, found with a byte scan (a
/// split at an ASCII byte always falls on a char boundary).
fn nth_ascii_part(s: &str, delim: u8, index: i64) -> Option<&str> {
    nth_byte_part(s, delim, usize::try_from(index).ok()?)
}

/// [`nth_ascii_part`] at a position already known not to be negative.
fn nth_byte_part(s: &str, delim: u8, index: usize) -> Option<&str> {
    let bytes = s.as_bytes();
    let end_from = |from: usize| {
        bytes[from..]
            .iter()
            .position(|b| *b == delim)
            .map_or(bytes.len(), |at| from + at)
    };
    let mut start = 0;
    for _ in 0..index {
        start = end_from(start) + 1;
        if start > bytes.len() {
            return None;
        }
    }
    Some(&s[start..end_from(start)])
}

/// The `index`th item of `parts` (a one-character delimiter splits with a byte search).
fn nth_part<'a>(mut parts: impl Iterator<Item = &'a str>, index: i64) -> Option<&'a str> {
    usize::try_from(index).ok().and_then(|i| parts.nth(i))
}
