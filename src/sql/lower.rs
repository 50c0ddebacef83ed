//! A SELECT into pipeline specs: the window assignment, the join, `WHERE`, the aggregate,
//! the top-N or the projection, `HAVING`, the final projection, `DISTINCT` and `UNION ALL`
//! (see the module docs of `sql`).
//!
//! Decision: which join a `JOIN` is follows from its `ON`, as in Flink — a `BETWEEN` on the
//! inputs' `ts` makes an interval join, equal `window_start` and `window_end` a window join
//! (the window columns are then the window, not keys), anything else an equi-join — so a
//! query from Flink's documentation keeps its shape. Names are resolved and
//! expressions type-checked later, by `plan::lower`, against each step's input.

use std::collections::BTreeSet;

use super::SqlError;
use super::cursor::Captured;
use super::from::{FromItem, WindowTvf};
use super::group::aggregate_steps;
use super::query::{Between, ItemKind, Join, Select, Where};
use super::rank::{Rank, ranked_input, row_number_item, top_n_steps};
use super::rewrite::{Remap, strip};
use crate::plan::Emission;
use crate::plan::lower::{JoinOn, Origin, PipelineSpec, StepSpec, Text, WindowSpec};

/// The pipelines of a statement (its subqueries', then its own) and the texts it cut.
#[derive(Default)]
pub(super) struct Lowering {
    pub specs: Vec<PipelineSpec>,
    pub remaps: Vec<Remap>,
    /// Subqueries without an alias so far (they are named `<statement>_sub<n>`).
    anonymous: usize,
}

/// What a statement makes of its query: a view (internal) or an output.
pub(super) struct Output {
    pub name: Text,
    pub internal: bool,
    pub final_state: bool,
    /// `emit` and `allowed_lateness` options, with their offsets.
    pub emission: Option<(Emission, usize)>,
    pub allowed_lateness: Option<(u64, usize)>,
}

impl Output {
    /// An internal pipeline of a statement (a subquery, a branch of a union).
    fn internal(name: Text) -> Output {
        Output {
            name,
            internal: true,
            final_state: false,
            emission: None,
            allowed_lateness: None,
        }
    }
}

/// The pipelines of one statement: those of its subqueries, then its own.
pub(super) fn lower_statement(query: &Select, out: &Output) -> Result<Lowering, SqlError> {
    let mut cx = Lowering::default();
    let spec = pipeline(query, out, None, &mut cx)?;
    cx.specs.push(spec);
    Ok(cx)
}

/// A query's pipeline. `rank` is the top-N its enclosing query asks of its `ROW_NUMBER()`.
fn pipeline(
    q: &Select,
    out: &Output,
    rank: Option<Rank>,
    cx: &mut Lowering,
) -> Result<PipelineSpec, SqlError> {
    let (from, skip) = match ranked_input(q)? {
        Some(ranked) => {
            let name = subquery_name(ranked.alias, ranked.query, out, cx);
            let inner = Output::internal(name.clone());
            let spec = pipeline(ranked.query, &inner, Some(ranked.rank), cx)?;
            cx.specs.push(spec);
            (name, Some(ranked.term))
        }
        None => (input(&q.from, out, cx)?, None),
    };
    let window = match &q.from {
        FromItem::Window(w) => Some(w),
        _ => None,
    };
    let aggregates =
        q.group_by.is_some() || q.items.iter().any(|i| matches!(i.kind, ItemKind::Agg(_)));
    let ranked = row_number_item(q);
    // A window table function without an aggregate gives its rows with their windows.
    let rows_window = window.filter(|_| !aggregates && ranked.is_none());
    let mut steps = Vec::new();
    if let Some(w) = rows_window {
        steps.push(StepSpec::Window {
            kind: w.kind,
            origin: Origin { offset: Some(w.at) },
        });
    }
    let left = q.joins.first().map(|_| from.text.as_str());
    let (before, after) = where_steps(q.filter.as_ref(), left, skip, &mut cx.remaps);
    steps.extend(before);
    // The inputs whose columns the rows have so far (a join qualifies them by these names).
    let mut joined = vec![from.text.clone()];
    for join in &q.joins {
        let chained = q.joins.len() > 1;
        let step = join_step(
            &q.from,
            join,
            &joined,
            chained,
            rows_window.is_some(),
            out,
            cx,
        )?;
        if let StepSpec::Join { with, .. } = &step {
            joined.push(with.text.clone());
        }
        steps.push(step);
    }
    steps.extend(after);
    if let Some((item, rn)) = ranked {
        top_n_steps(q, item, rn, aggregates, rank, &mut steps)?;
    } else if aggregates {
        aggregate_steps(q, window, out, &mut steps, &mut cx.remaps)?;
    } else {
        check_plain(q, out)?;
        if let Some(step) = projection(q)? {
            steps.push(step);
        }
    }
    if let Some(at) = q.distinct {
        steps.push(StepSpec::Distinct {
            origin: Origin { offset: Some(at) },
        });
    }
    if !q.unions.is_empty() {
        steps.push(union_step(q, out, cx)?);
    }
    if let Some(at) = q.union_distinct {
        steps.push(StepSpec::Distinct {
            origin: Origin { offset: Some(at) },
        });
    }
    Ok(PipelineSpec {
        name: out.name.clone(),
        from,
        steps,
        final_state: out.final_state,
        internal: out.internal,
    })
}

/// `SELECT … UNION ALL SELECT …`: each later SELECT is an internal pipeline
/// `<name>_union<n>`, and the first one's pipeline ends with their union.
fn union_step(q: &Select, out: &Output, cx: &mut Lowering) -> Result<StepSpec, SqlError> {
    let mut with = Vec::new();
    for (i, branch) in q.unions.iter().enumerate() {
        let name = Text::at(format!("{}_union{}", out.name.text, i + 1), Some(branch.at));
        let spec = pipeline(branch, &Output::internal(name.clone()), None, cx)?;
        cx.specs.push(spec);
        with.push(name);
    }
    Ok(StepSpec::Union { with })
}

/// WHERE as filters before and after a join. Before (`left` is the join's left input): the
/// terms that read only the left input, unqualified, so the join sees fewer rows. After (or
/// without a join): the other terms; WHERE's whole text as one filter when none moved.
/// `skip` is a term already taken (a top-N's `rownum <= N`).
fn where_steps(
    filter: Option<&Where>,
    left: Option<&str>,
    skip: Option<usize>,
    remaps: &mut Vec<Remap>,
) -> (Vec<StepSpec>, Vec<StepSpec>) {
    let Some(w) = filter else {
        return (Vec::new(), Vec::new());
    };
    let pushed = |c: &Captured| {
        left.is_some_and(|l| !c.qualifiers.is_empty() && c.qualifiers.iter().all(|q| q.name == l))
    };
    if skip.is_none() && !w.terms.iter().any(pushed) {
        return (Vec::new(), vec![StepSpec::Filter(w.whole.text.clone())]);
    }
    let l = left.unwrap_or_default();
    let kept = w
        .terms
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, c)| c);
    let (before, after): (Vec<&Captured>, Vec<&Captured>) = kept.partition(|c| pushed(c));
    (
        before
            .into_iter()
            .map(|c| StepSpec::Filter(strip(c, l, remaps)))
            .collect(),
        after
            .into_iter()
            .map(|c| StepSpec::Filter(c.text.clone()))
            .collect(),
    )
}

/// The name a FROM item is read by; a subquery becomes an internal pipeline first.
fn input(item: &FromItem, out: &Output, cx: &mut Lowering) -> Result<Text, SqlError> {
    if let FromItem::Sub { query, alias } = item {
        let name = subquery_name(alias.as_ref(), query, out, cx);
        let spec = pipeline(query, &Output::internal(name.clone()), None, cx)?;
        cx.specs.push(spec);
        return Ok(name);
    }
    // NB: only a subquery may lack a name.
    Ok(item.name().cloned().unwrap_or_default())
}

/// A subquery's alias, or `<statement>_sub<n>` when it has none.
fn subquery_name(alias: Option<&Text>, query: &Select, out: &Output, cx: &mut Lowering) -> Text {
    match alias {
        Some(alias) => alias.clone(),
        None => {
            cx.anonymous += 1;
            Text::at(
                format!("{}_sub{}", out.name.text, cx.anonymous),
                Some(query.at),
            )
        }
    }
}

/// A query without aggregates: no HAVING, no window options.
fn check_plain(q: &Select, out: &Output) -> Result<(), SqlError> {
    if let Some(having) = &q.having {
        return Err(SqlError::at(
            having.at,
            "HAVING needs GROUP BY or an aggregate",
        ));
    }
    window_options(out, None).map(|_| ())
}

/// The window of an aggregate, with the statement's `emit` and `allowed_lateness`.
pub(super) fn window_options(
    out: &Output,
    window: Option<&WindowTvf>,
) -> Result<Option<WindowSpec>, SqlError> {
    let Some(w) = window else {
        let at = out
            .emission
            .map(|e| e.1)
            .or(out.allowed_lateness.map(|l| l.1));
        return match at {
            Some(at) => Err(SqlError::at(
                at,
                "`emit` and `allowed_lateness` apply to a windowed aggregate (FROM TUMBLE, HOP or SESSION)",
            )),
            None => Ok(None),
        };
    };
    Ok(Some(WindowSpec {
        kind: w.kind,
        emission: out.emission.map_or(Emission::Final, |e| e.0),
        allowed_lateness: out.allowed_lateness.map_or(0, |l| l.0),
    }))
}

/// The join of `left` and `join.right`: an interval join when ON bounds the times with
/// BETWEEN, a window join when it equates both `window_start` and `window_end`, an equi-join
/// otherwise. `windowed`: the left input is a window table function's rows.
/// One `JOIN … ON …` of a SELECT. `joined` names the inputs of the rows it joins (the FROM
/// item, then each earlier join's input); `chained` says the SELECT has several joins, each
/// then a regular equi-join of the rows so far, whose columns keep their qualified names.
fn join_step(
    left: &FromItem,
    join: &Join,
    joined: &[String],
    chained: bool,
    windowed: bool,
    out: &Output,
    cx: &mut Lowering,
) -> Result<StepSpec, SqlError> {
    check_join_inputs(left, join, windowed)?;
    let with = input(&join.right, out, cx)?;
    let right_name = with.text.clone();
    if joined.contains(&right_name) {
        return Err(SqlError::at(
            with.origin.offset.unwrap_or(join.at),
            format!(
                "`{right_name}` is joined twice: a join of an input with itself is not supported"
            ),
        ));
    }
    let (l, r) = (joined, right_name.as_str());
    let mut left_on = Vec::new();
    let mut right_on = Vec::new();
    // The equalities of window_start and window_end, kept apart: a window join's window.
    let mut windows: Vec<(Text, Text)> = Vec::new();
    for (a, b) in &join.on {
        let (a, b) = match (side(a, l, r), side(b, l, r)) {
            (Some(true), Some(false)) => (a, b),
            (Some(false), Some(true)) => (b, a),
            _ => return Err(not_across(a, l, r)),
        };
        let a = match joined {
            [first] => strip(a, first, &mut cx.remaps),
            _ => a.text.clone(),
        };
        let b = strip(b, r, &mut cx.remaps);
        if a.text == b.text && ["window_start", "window_end"].contains(&a.text.as_str()) {
            windows.push((a, b));
            continue;
        }
        left_on.push(a);
        right_on.push(b);
    }
    let window_join = join.between.is_none() && windows.len() == 2;
    if !window_join {
        // NB: not a window join: the window columns are keys like any other.
        for (a, b) in windows {
            left_on.push(a);
            right_on.push(b);
        }
    }
    let on = JoinOn {
        with,
        left_on,
        right_on,
        origin: Origin {
            offset: Some(join.at),
        },
    };
    if chained && (join.between.is_some() || window_join) {
        return Err(SqlError::at(
            join.at,
            "an interval or a window join must be the only JOIN of its SELECT: join its result \
             in a view",
        ));
    }
    if let Some(between) = &join.between {
        let (lower, upper) = interval_bounds(between, &l[0], r)?;
        return Ok(StepSpec::IntervalJoin {
            on,
            lower,
            upper,
            kind: join.kind,
        });
    }
    if window_join {
        return Ok(StepSpec::WindowJoin {
            on,
            kind: join.kind,
        });
    }
    Ok(StepSpec::Join {
        with: on.with,
        left_on: on.left_on,
        right_on: on.right_on,
        kind: join.kind,
    })
}

/// The join's inputs: no window table function on the right, and on the left only one whose
/// rows are windowed (`windowed`, no aggregate); a joined subquery has a name.
fn check_join_inputs(left: &FromItem, join: &Join, windowed: bool) -> Result<(), SqlError> {
    for (item, is_left) in [(left, true), (&join.right, false)] {
        match item {
            FromItem::Window(w) if !is_left => {
                return Err(SqlError::at(
                    w.at,
                    "the right side of a join cannot be a window table function: name it, `(SELECT * FROM TUMBLE(…)) AS name`, or put it on the left",
                ));
            }
            FromItem::Window(w) if !windowed => {
                return Err(SqlError::at(
                    w.at,
                    "a window table function cannot be joined and aggregated in one SELECT: aggregate it in a view and join the view",
                ));
            }
            FromItem::Sub {
                query, alias: None, ..
            } => {
                return Err(SqlError::at(
                    query.at,
                    "a joined subquery needs a name: `(SELECT …) AS name`",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `left.ts - right.ts` within `[lower, upper]` from `a.ts BETWEEN b.ts + x AND b.ts + y`.
fn interval_bounds(b: &Between, l: &str, r: &str) -> Result<(i64, i64), SqlError> {
    let subject = b.subject.text.as_str();
    let other = if subject == l { r } else { l };
    let at = b.subject.origin.offset.unwrap_or(b.at);
    if subject != l && subject != r {
        return Err(SqlError::at(
            at,
            format!("BETWEEN bounds `{l}.ts` or `{r}.ts`, not `{subject}.ts`"),
        ));
    }
    for bound in [&b.lower, &b.upper] {
        if bound.input.text != other {
            return Err(SqlError::at(
                bound.input.origin.offset.unwrap_or(b.at),
                format!(
                    "the bounds of `{subject}.ts BETWEEN` are times of `{other}`: `{other}.ts - INTERVAL …`"
                ),
            ));
        }
    }
    let (lo, hi) = (b.lower.offset_ms, b.upper.offset_ms);
    if lo > hi {
        return Err(SqlError::at(
            b.lower.input.origin.offset.unwrap_or(b.at),
            "BETWEEN's lower bound must come first (it is greater than the upper bound)",
        ));
    }
    Ok(if subject == l { (lo, hi) } else { (-hi, -lo) })
}

/// `Some(true)` when every qualifier of `c` is one of `left`, `Some(false)` when every one
/// is `right`, `None` otherwise (none, or mixed).
fn side(c: &Captured, left: &[String], right: &str) -> Option<bool> {
    let names: BTreeSet<&str> = c.qualifiers.iter().map(|q| q.name.as_str()).collect();
    match names.into_iter().collect::<Vec<_>>().as_slice() {
        [n] if *n == right => Some(false),
        [] => None,
        names if names.iter().all(|n| left.iter().any(|l| l == n)) => Some(true),
        _ => None,
    }
}

/// The error of an ON equality that does not compare the two sides.
fn not_across(c: &Captured, left: &[String], right: &str) -> SqlError {
    let message = match left {
        [l] => format!(
            "each equality of ON compares a column of `{l}` with one of `{right}`, qualified by their names (`{l}.x = {right}.y`)"
        ),
        _ => format!(
            "each equality of ON compares a column of the inputs joined so far ({}) with one of `{right}`, qualified by their names (`{}.x = {right}.y`)",
            left.iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", "),
            left[0]
        ),
    };
    SqlError::at(c.at, message)
}

/// `SELECT a AS x, …`: a map step (none for `SELECT *`).
fn projection(q: &Select) -> Result<Option<StepSpec>, SqlError> {
    let mut fields = Vec::new();
    for item in &q.items {
        match &item.kind {
            ItemKind::Star if q.items.len() == 1 => return Ok(None),
            ItemKind::Star => {
                return Err(SqlError::at(item.at, "`*` must be the only SELECT item"));
            }
            ItemKind::Expr(e) => {
                fields.push((column_name(item.alias.as_ref(), e)?, e.text.clone()))
            }
            // NB: a SELECT with an aggregate item lowers as an aggregate, and one with a
            // row number as a top-N, never here.
            ItemKind::Agg(_) | ItemKind::RowNumber(_) => {}
        }
    }
    Ok(Some(StepSpec::Map(fields)))
}

/// The alias, or the last name of a dotted name (`value.price` -> `price`).
pub(super) fn column_name(alias: Option<&Text>, e: &Captured) -> Result<Text, SqlError> {
    if let Some(alias) = alias {
        return Ok(alias.clone());
    }
    match &e.last_name {
        Some(name) => Ok(Text::at(name.clone(), Some(e.at))),
        None => Err(SqlError::at(
            e.at,
            format!("name this column: `{} AS name`", e.text.text),
        )),
    }
}
