//! Top-N in Flink's form: a subquery numbers its rows with `ROW_NUMBER() OVER (PARTITION BY
//! … ORDER BY …) AS rownum`, and the query around it keeps `WHERE rownum <= N` (or `rownum <
//! N`, or `rownum = 1`: deduplication). The subquery lowers to a top-N step (then its
//! projection); the enclosing query's `rownum` term is the top-N's limit, not a filter.
//! `rownum` is a column of the subquery's rows only when the enclosing query reads it (`*`,
//! a SELECT item or another WHERE term naming it): then a row whose rank changes is retracted
//! with its old rank and added with its new one.

use super::SqlError;
use super::cursor::Captured;
use super::from::FromItem;
use super::query::{Item, ItemKind, RowNumber, Select};
use crate::plan::lower::{OrderSpec, Origin, StepSpec, Text};

/// The top-N an enclosing query asks of a subquery's row number.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rank {
    pub limit: usize,
    /// Whether the enclosing query reads the row number.
    pub keep: bool,
}

/// A query over a numbered subquery: the subquery, its alias, the top-N, and the index of
/// the WHERE term that set the limit.
pub(super) struct Ranked<'q> {
    pub query: &'q Select,
    pub alias: Option<&'q Text>,
    pub rank: Rank,
    pub term: usize,
}

/// The subquery's `ROW_NUMBER()` item, if it has one.
pub(super) fn row_number_item(q: &Select) -> Option<(&Item, &RowNumber)> {
    q.items.iter().find_map(|item| match &item.kind {
        ItemKind::RowNumber(rn) => Some((item, rn)),
        _ => None,
    })
}

/// `q` reads a numbered subquery: finds the `rownum <= N` term of its WHERE.
pub(super) fn ranked_input(q: &Select) -> Result<Option<Ranked<'_>>, SqlError> {
    let FromItem::Sub { query, alias } = &q.from else {
        return Ok(None);
    };
    let Some((item, rn)) = row_number_item(query) else {
        return Ok(None);
    };
    let Some(name) = &item.alias else {
        return Err(SqlError::at(
            rn.at,
            "name the row number: `ROW_NUMBER() OVER (…) AS rownum`",
        ));
    };
    let name = name.text.to_lowercase();
    let terms = q.filter.as_ref().map_or(&[][..], |w| w.terms.as_slice());
    let mut found = None;
    for (i, term) in terms.iter().enumerate() {
        if let Some(limit) = limit_of(term, &name)? {
            found = Some((i, limit));
            break;
        }
    }
    let Some((term, limit)) = found else {
        return Err(needs_limit(rn.at, &name));
    };
    let reads = |c: &Captured| c.norm.split(' ').any(|t| t == name);
    let keep = q.items.iter().any(|item| match &item.kind {
        ItemKind::Star => true,
        ItemKind::Expr(e) => reads(e),
        ItemKind::Agg(a) => a.arg.as_ref().is_some_and(reads),
        ItemKind::RowNumber(_) => false,
    }) || terms.iter().enumerate().any(|(i, t)| i != term && reads(t));
    Ok(Some(Ranked {
        query,
        alias: alias.as_ref(),
        rank: Rank { limit, keep },
        term,
    }))
}

fn needs_limit(at: usize, name: &str) -> SqlError {
    SqlError::at(
        at,
        format!(
            "a row number is a top-N: the query around it must keep `WHERE {name} <= N` (or `{name} < N`, `{name} = 1`)"
        ),
    )
}

/// The limit a term `name <= N`, `name < N` or `name = 1` sets; `None` for a term about
/// something else, an error for another comparison of the row number.
fn limit_of(term: &Captured, name: &str) -> Result<Option<usize>, SqlError> {
    let tokens: Vec<&str> = term.norm.split(' ').collect();
    if !tokens.contains(&name) {
        return Ok(None);
    }
    let refused = || {
        SqlError::at(
            term.at,
            format!(
                "a top-N keeps `{name} <= N`, `{name} < N` or `{name} = 1` (N a positive integer)"
            ),
        )
    };
    let [n, op, value] = tokens.as_slice() else {
        return Err(refused());
    };
    let value: usize = value.parse().map_err(|_| refused())?;
    let limit = match *op {
        "<=" => value,
        "<" => value.saturating_sub(1),
        "=" if value == 1 => 1,
        _ => 0,
    };
    if *n != name || limit == 0 {
        return Err(refused());
    }
    Ok(Some(limit))
}

/// The steps of a numbered query: the top-N, then the projection of its SELECT list.
pub(super) fn top_n_steps(
    q: &Select,
    item: &Item,
    rn: &RowNumber,
    aggregates: bool,
    rank: Option<Rank>,
    steps: &mut Vec<StepSpec>,
) -> Result<(), SqlError> {
    let name = item.alias.clone().unwrap_or_default();
    let Some(rank) = rank else {
        return Err(needs_limit(rn.at, &name.text));
    };
    if aggregates || q.having.is_some() {
        return Err(SqlError::at(
            rn.at,
            "a row number over an aggregate: aggregate in a subquery or view, and number its rows",
        ));
    }
    if matches!(q.from, FromItem::Window(_)) {
        return Err(SqlError::at(
            rn.at,
            "a row number over a window table function: aggregate the windows in a subquery or view, and number its rows",
        ));
    }
    let rank_field = rank.keep.then(|| name.clone());
    steps.push(StepSpec::TopN {
        partition_by: rn.partition_by.iter().map(|c| c.text.clone()).collect(),
        order_by: rn
            .order_by
            .iter()
            .map(|(c, descending)| OrderSpec {
                expr: c.text.clone(),
                descending: *descending,
            })
            .collect(),
        limit: rank.limit,
        ranking: rn.ranking,
        rank_field,
        origin: Origin {
            offset: Some(rn.at),
        },
    });
    if let Some(map) = projection(q, &name, rank.keep)? {
        steps.push(map);
    }
    Ok(())
}

/// The SELECT list of a numbered query after its top-N: none for `*, ROW_NUMBER() …`.
fn projection(q: &Select, name: &Text, keep: bool) -> Result<Option<StepSpec>, SqlError> {
    let star = q.items.iter().any(|i| matches!(i.kind, ItemKind::Star));
    if star {
        if q.items.len() > 2 {
            let at = q.items.iter().map(|i| i.at).max().unwrap_or(q.at);
            return Err(SqlError::at(
                at,
                "with `*`, a numbered query's SELECT list is `*, ROW_NUMBER() OVER (…) AS name`",
            ));
        }
        return Ok(None);
    }
    let mut fields = Vec::new();
    for item in &q.items {
        match &item.kind {
            ItemKind::Expr(e) => fields.push((
                super::lower::column_name(item.alias.as_ref(), e)?,
                e.text.clone(),
            )),
            ItemKind::RowNumber(_) if keep => fields.push((
                name.clone(),
                Text::at(format!("\"{}\"", name.text), name.origin.offset),
            )),
            _ => {}
        }
    }
    Ok(Some(StepSpec::Map(fields)))
}
