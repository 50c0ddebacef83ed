//! The catalogue of built-in functions: name lookup, arity and argument type checks, result
//! types. Evaluation is in `builtins.rs`.

use regex::Regex;

use crate::schema::Type;
use crate::value::Value;

use super::node::{CastTo, Func, Node, Side, Typed};
use super::span::Range;
use super::{ExprError, suggest};

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
    pub(crate) fn name(&self) -> &'static str {
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
            Func::SplitPart | Func::SplitPartByte(..) => "split_part",
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
        Func::SplitPart | Func::SplitPartByte(..) => {
            expect(f, &args[0], Type::Str)?;
            expect(f, &args[1], Type::Str)?;
            expect(f, &args[2], Type::Int)?;
            Type::Str
        }
        Func::RegexpLike(_) => Type::Bool,
    };
    let func = resolve_literals(func, &args);
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

/// `func` with the literal arguments it can take now taken: `split_part` by one ASCII byte
/// at a positive position skips evaluating, checking and converting them for every row.
fn resolve_literals(func: Func, args: &[Typed]) -> Func {
    let literals = (args.get(1).map(|a| &a.node), args.get(2).map(|a| &a.node));
    match (func, literals) {
        (Func::SplitPart, (Some(Node::Lit(Value::Str(d))), Some(Node::Lit(Value::Int(n)))))
            if d.len() == 1 && d.is_ascii() && *n > 0 =>
        {
            let index = usize::try_from(*n - 1).unwrap_or(usize::MAX);
            Func::SplitPartByte(d.as_bytes()[0], index)
        }
        (func, _) => func,
    }
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
