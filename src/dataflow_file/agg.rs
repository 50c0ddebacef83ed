//! Aggregate entries, `name = "func(arg)"`: `count(*)`, `count(x)`, `count(DISTINCT x)`,
//! `sum`, `min`, `max`, `avg`, `count_distinct`, `first`, `last`, `collect(x)` and
//! `collect(x, limit)` (limit default 100). The argument stays text, compiled by `lower`.

use super::error::Fail;
use super::raw::Str;
use crate::expr::suggest;
use crate::plan::AggFunc;
use crate::plan::lower::{AggSpec, Text};

const FUNCS: &[&str] = AggFunc::NAMES;

/// Parses the aggregate `name = text`.
pub(super) fn parse(name: &Str, text: &Str) -> Result<AggSpec, Fail> {
    let s = text.value.as_str();
    let malformed = || {
        Fail::at(
            text.at,
            format!(
                "malformed aggregate `{s}`: expected `func(arg)`, e.g. `sum(value.amount)` or `count(*)`"
            ),
        )
    };
    let open = s.find('(').ok_or_else(malformed)?;
    let close = s.trim_end().len().saturating_sub(1);
    let func = s[..open].trim();
    if func.is_empty() || close <= open || !s.trim_end().ends_with(')') {
        return Err(malformed());
    }
    let func_at = text.at + (s.len() - s.trim_start().len());
    let lower = func.to_ascii_lowercase();
    let (inner_at, args) = (open + 1, split_args(&s[open + 1..close]));
    let arg_at = |i: usize| text.at + inner_at + args.get(i).map_or(0, |a| a.0);
    let needs_arg = |example: &str| {
        Fail::at(
            text.at + inner_at,
            format!("{lower} needs an argument, e.g. `{example}`"),
        )
    };
    let mut func = match AggFunc::from_name(&lower) {
        Some(func) => func,
        None => {
            return Err(Fail::at(
                func_at,
                format!(
                    "unknown aggregate function `{func}`, expected one of: {}",
                    FUNCS.join(", ")
                ),
            )
            .suggest(suggest(&lower, FUNCS)));
        }
    };
    let (mut arg_off, mut arg) = match args.first() {
        Some((off, a)) if !a.is_empty() => (*off, *a),
        _ if func == AggFunc::Count => {
            return Err(needs_arg("count(*)` to count rows, or `count(value.id)"));
        }
        _ => return Err(needs_arg(&format!("{lower}(value.amount)"))),
    };
    if let Some((_, extra)) = args.get(1) {
        match func {
            AggFunc::Collect { .. } if args.len() == 2 => {
                let limit = extra.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Fail::at(arg_at(1), "the limit of collect must be a positive integer, e.g. `collect(x, 10)`")
                })?;
                func = AggFunc::Collect { limit };
            }
            AggFunc::Collect { .. } => {
                return Err(Fail::at(
                    arg_at(2),
                    "collect takes an expression and an optional limit",
                ));
            }
            _ => {
                return Err(Fail::at(arg_at(1), format!("{lower} takes one argument")));
            }
        }
    }
    // `count(DISTINCT x)` is count_distinct(x).
    if func == AggFunc::Count
        && let Some(after) = arg
            .get(9..)
            .filter(|_| arg[..9].eq_ignore_ascii_case("distinct "))
    {
        let trimmed = after.trim_start();
        arg_off += 9 + (after.len() - trimmed.len());
        arg = trimmed;
        func = AggFunc::CountDistinct;
    }
    let arg = if arg == "*" {
        if func != AggFunc::Count {
            return Err(Fail::at(
                arg_at(0),
                format!("only count takes `*`, not {lower}"),
            ));
        }
        None
    } else {
        Some(Text::at(arg, Some(text.at + inner_at + arg_off)))
    };
    Ok(AggSpec {
        name: Text::at(name.value.clone(), Some(name.at)),
        func,
        arg,
        filter: None,
    })
}

/// The comma-separated arguments of `inner` (outside brackets and quotes), trimmed, each
/// with its byte offset in `inner`. An empty `inner` has no arguments.
fn split_args(inner: &str) -> Vec<(usize, &str)> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    let mut pieces = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None, 0);
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                pieces.push((start, &inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push((start, &inner[start..]));
    pieces
        .into_iter()
        .map(|(off, p)| (off + (p.len() - p.trim_start().len()), p.trim()))
        .collect()
}
