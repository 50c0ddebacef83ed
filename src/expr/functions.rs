//! The built-in functions: name lookup, compile-time arity and type checks, and evaluation.
//!
//! Functions are strict (a NULL argument gives NULL) except `coalesce`, `concat` (which skips
//! NULLs, as in PostgreSQL) and `nullif`. String positions are 1-based and count chars.

use std::borrow::Cow;

use regex::Regex;

use crate::schema::Type;
use crate::value::{F64, Row, Value};

use super::eval::{Val, eval};
use super::node::{CastTo, Node, Typed};
use super::ops;
use super::span::Range;
use super::{EvalError, ExprError, suggest};

/// A resolved built-in function.
#[derive(Clone, Debug)]
pub(crate) enum Func {
    Lower,
    Upper,
    Length,
    Concat,
    Coalesce,
    NullIf,
    Abs,
    Round,
    Floor,
    Ceil,
    Substr,
    Trim(Side),
    Replace,
    StartsWith,
    EndsWith,
    SplitPart,
    /// The pattern, compiled once when the expression is compiled.
    RegexpLike(Box<Regex>),
}

/// Which ends `trim` strips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Both,
    Leading,
    Trailing,
}

/// Every function name, for "did you mean" suggestions.
pub(crate) const NAMES: &[&str] = &[
    "lower",
    "upper",
    "length",
    "concat",
    "coalesce",
    "nullif",
    "abs",
    "round",
    "floor",
    "ceil",
    "ceiling",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "starts_with",
    "ends_with",
    "split_part",
    "regexp_like",
];

impl Func {
    fn name(&self) -> &'static str {
        match self {
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Length => "length",
            Func::Concat => "concat",
            Func::Coalesce => "coalesce",
            Func::NullIf => "nullif",
            Func::Abs => "abs",
            Func::Round => "round",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Substr => "substr",
            Func::Trim(Side::Both) => "trim",
            Func::Trim(Side::Leading) => "ltrim",
            Func::Trim(Side::Trailing) => "rtrim",
            Func::Replace => "replace",
            Func::StartsWith => "starts_with",
            Func::EndsWith => "ends_with",
            Func::SplitPart => "split_part",
            Func::RegexpLike(_) => "regexp_like",
        }
    }
}

/// "a string", "an int".
pub(crate) fn article(name: &str) -> String {
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

/// The type of a value that may come from any of `types`: the common type if there is one
/// (ignoring NULL; Int with Float is Float), else Json (known at run time).
pub(crate) fn unify(types: impl IntoIterator<Item = Type>) -> Type {
    let mut out = Type::Null;
    for t in types {
        out = match (out, t) {
            (a, Type::Null) => a,
            (Type::Null, b) => b,
            (a, b) if a == b => a,
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => Type::Float,
            _ => Type::Json,
        };
    }
    out
}

/// Makes `t` produce values of type `want`: an Int where a Float is wanted is converted.
pub(crate) fn coerce(t: Typed, want: Type) -> Typed {
    if want == Type::Float && t.ty == Type::Int {
        Typed {
            node: Node::Cast {
                expr: Box::new(t.node),
                to: CastTo::Float,
                lenient: false,
            },
            ty: Type::Float,
            range: t.range,
        }
    } else {
        t
    }
}

fn expect(f: &str, arg: &Typed, want: Type) -> Result<(), ExprError> {
    if arg.ty.fits(want) {
        Ok(())
    } else {
        Err(type_error(f, arg, &article(want.name())))
    }
}

fn expect_number(f: &str, arg: &Typed) -> Result<(), ExprError> {
    if arg.ty.is_numeric() {
        Ok(())
    } else {
        Err(type_error(f, arg, "a number"))
    }
}

fn type_error(f: &str, arg: &Typed, want: &str) -> ExprError {
    ExprError::new(
        format!("{f} expects {want}, got {}", arg.ty.name()),
        arg.range,
    )
}

/// Resolves and type-checks a call of `name` (any case) with compiled `args`.
pub(crate) fn compile(
    name: &str,
    name_range: Range,
    call_range: Range,
    args: Vec<Typed>,
) -> Result<Typed, ExprError> {
    let lower = name.to_ascii_lowercase();
    let (func, min, max) = match lower.as_str() {
        "lower" => (Func::Lower, 1, 1),
        "upper" => (Func::Upper, 1, 1),
        "length" | "char_length" | "character_length" => (Func::Length, 1, 1),
        "concat" => (Func::Concat, 0, usize::MAX),
        "coalesce" => (Func::Coalesce, 1, usize::MAX),
        "nullif" => (Func::NullIf, 2, 2),
        "abs" => (Func::Abs, 1, 1),
        "round" => (Func::Round, 1, 2),
        "floor" => (Func::Floor, 1, 1),
        "ceil" | "ceiling" => (Func::Ceil, 1, 1),
        "substr" | "substring" => (Func::Substr, 2, 3),
        "trim" | "btrim" => (Func::Trim(Side::Both), 1, 2),
        "ltrim" => (Func::Trim(Side::Leading), 1, 2),
        "rtrim" => (Func::Trim(Side::Trailing), 1, 2),
        "replace" => (Func::Replace, 3, 3),
        "starts_with" => (Func::StartsWith, 2, 2),
        "ends_with" => (Func::EndsWith, 2, 2),
        "split_part" => (Func::SplitPart, 3, 3),
        "regexp_like" => {
            arity(&lower, 2, 2, &args, call_range)?;
            return regexp_like(args, call_range);
        }
        _ => {
            return Err(
                ExprError::new(format!("unknown function `{name}`"), name_range)
                    .with_suggestion(suggest::did_you_mean(&lower, NAMES)),
            );
        }
    };
    arity(&lower, min, max, &args, call_range)?;
    let f = lower.as_str();
    let ty = match &func {
        Func::Lower | Func::Upper => {
            expect(f, &args[0], Type::Str)?;
            Type::Str
        }
        Func::Length => {
            let t = args[0].ty;
            if !matches!(t, Type::Str | Type::List | Type::Json | Type::Null) {
                return Err(type_error(f, &args[0], "a string or list"));
            }
            Type::Int
        }
        Func::Concat => Type::Str,
        Func::Coalesce => {
            let ty = unify(args.iter().map(|a| a.ty));
            let args = args.into_iter().map(|a| coerce(a, ty)).collect();
            return Ok(call(func, args, ty, call_range));
        }
        Func::NullIf => args[0].ty,
        Func::Abs | Func::Floor | Func::Ceil => {
            expect_number(f, &args[0])?;
            args[0].ty
        }
        Func::Round => {
            expect_number(f, &args[0])?;
            if let Some(d) = args.get(1) {
                expect(f, d, Type::Int)?;
            }
            args[0].ty
        }
        Func::Substr => {
            expect(f, &args[0], Type::Str)?;
            for a in &args[1..] {
                expect(f, a, Type::Int)?;
            }
            Type::Str
        }
        Func::Trim(_) | Func::Replace => {
            for a in &args {
                expect(f, a, Type::Str)?;
            }
            Type::Str
        }
        Func::StartsWith | Func::EndsWith => {
            for a in &args {
                expect(f, a, Type::Str)?;
            }
            Type::Bool
        }
        Func::SplitPart => {
            expect(f, &args[0], Type::Str)?;
            expect(f, &args[1], Type::Str)?;
            expect(f, &args[2], Type::Int)?;
            Type::Str
        }
        Func::RegexpLike(_) => Type::Bool,
    };
    Ok(call(func, args, ty, call_range))
}

fn arity(f: &str, min: usize, max: usize, args: &[Typed], range: Range) -> Result<(), ExprError> {
    if (min..=max).contains(&args.len()) {
        return Ok(());
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let takes = match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", plural(a)),
        (a, usize::MAX) => format!("at least {a} argument{}", plural(a)),
        (a, b) => format!("{a} to {b} arguments"),
    };
    Err(ExprError::new(
        format!("{f} takes {takes}, got {}", args.len()),
        range,
    ))
}

fn call(func: Func, args: Vec<Typed>, ty: Type, range: Range) -> Typed {
    Typed {
        node: Node::Call(func, args.into_iter().map(|a| a.node).collect()),
        ty,
        range,
    }
}

/// `regexp_like(str, 'pattern')`: the pattern must be a literal and is compiled now.
fn regexp_like(mut args: Vec<Typed>, range: Range) -> Result<Typed, ExprError> {
    expect("regexp_like", &args[0], Type::Str)?;
    let pat = &args[1];
    let Node::Lit(Value::Str(p)) = &pat.node else {
        return Err(ExprError::new(
            "regexp_like expects a string literal as its pattern",
            pat.range,
        ));
    };
    let re = Regex::new(p)
        .map_err(|e| ExprError::new(format!("invalid regular expression: {e}"), pat.range))?;
    args.truncate(1);
    Ok(call(
        Func::RegexpLike(Box::new(re)),
        args,
        Type::Bool,
        range,
    ))
}

static NULL: Value = Value::Null;

/// Evaluates a call.
pub(crate) fn call_eval<'r>(
    func: &'r Func,
    args: &'r [Node],
    row: &'r Row,
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
            return Ok(Cow::Owned(Value::Str(out)));
        }
        Func::NullIf => {
            let a = eval_arg(args, 0, row)?;
            let b = eval_arg(args, 1, row)?;
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
        *slot = eval(a, row)?;
        if slot.is_null() {
            return Ok(Cow::Borrowed(&NULL));
        }
    }
    let n = args.len();
    let f = func.name();
    let out = match func {
        Func::Lower => Value::Str(text(f, &v[0])?.to_lowercase()),
        Func::Upper => Value::Str(text(f, &v[0])?.to_uppercase()),
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
            Value::Str(substr(s, start, len)?)
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
            Value::Str(out.to_string())
        }
        Func::Replace => {
            let (s, from, to) = (text(f, &v[0])?, text(f, &v[1])?, text(f, &v[2])?);
            if from.is_empty() {
                Value::Str(s.to_string())
            } else {
                Value::Str(s.replace(from, to))
            }
        }
        Func::StartsWith => Value::Bool(text(f, &v[0])?.starts_with(text(f, &v[1])?)),
        Func::EndsWith => Value::Bool(text(f, &v[0])?.ends_with(text(f, &v[1])?)),
        Func::SplitPart => {
            let (s, delim, i) = (text(f, &v[0])?, text(f, &v[1])?, int(f, &v[2])?);
            Value::Str(split_part(s, delim, i)?.to_string())
        }
        Func::RegexpLike(re) => Value::Bool(re.is_match(text(f, &v[0])?)),
        Func::Coalesce | Func::Concat | Func::NullIf => Value::Null, // handled above
    };
    Ok(Cow::Owned(out))
}

fn eval_arg<'r>(args: &'r [Node], i: usize, row: &'r Row) -> Result<Val<'r>, EvalError> {
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

/// PostgreSQL `substr`: chars `[start, start + len)`, 1-based, clipped to the string.
fn substr(s: &str, start: i64, len: Option<i64>) -> Result<String, EvalError> {
    let end = match len {
        Some(l) if l < 0 => return Err(EvalError::new("negative substring length not allowed")),
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1);
    if end <= from {
        return Ok(String::new());
    }
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - from).unwrap_or(usize::MAX);
    Ok(s.chars().skip(skip).take(take).collect())
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
    let part = if n > 0 {
        usize::try_from(n - 1)
            .ok()
            .and_then(|i| s.split(delim).nth(i))
    } else {
        usize::try_from(-(n + 1))
            .ok()
            .and_then(|i| s.rsplit(delim).nth(i))
    };
    Ok(part.unwrap_or(""))
}
