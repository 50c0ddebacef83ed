//! A SELECT with GROUP BY or aggregates into the aggregate step: window columns, group keys
//! matched to SELECT items (by expression or by alias), aggregates, `HAVING`, and the
//! projection when the SELECT list differs from the aggregate's own output.

use std::collections::BTreeSet;

use super::SqlError;
use super::cursor::Captured;
use super::from::WindowTvf;
use super::lower::{Output, column_name, window_options};
use super::query::{ItemKind, Select};
use super::rewrite::{Remap, rewrite};
use crate::plan::WindowKind;
use crate::plan::lower::{AggSpec, Origin, StepSpec, Text};

/// A GROUP BY key: its expression, and its column name once known.
struct Key<'q> {
    expr: &'q Captured,
    name: Option<Text>,
}

pub(super) fn aggregate_steps(
    q: &Select,
    window: Option<&WindowTvf>,
    out: &Output,
    steps: &mut Vec<StepSpec>,
    remaps: &mut Vec<Remap>,
) -> Result<(), SqlError> {
    let (group_at, groups) = match &q.group_by {
        Some((at, groups)) => (*at, groups.as_slice()),
        None => (q.at, &[][..]),
    };
    let is_window_column =
        |e: &Captured| window.is_some() && (e.norm == "window_start" || e.norm == "window_end");
    let keys_of = |g: &&Captured| !is_window_column(g);
    let mut keys: Vec<Key> = groups
        .iter()
        .filter(keys_of)
        .map(|expr| Key { expr, name: None })
        .collect();
    if let Some(w) = window {
        check_window_groups(w, groups, &keys, group_at)?;
    }
    // Output columns in SELECT order: (name, the aggregate's column it reads).
    let mut selected: Vec<(Text, String)> = Vec::new();
    let mut order = Vec::new();
    let mut aggs = Vec::new();
    for item in &q.items {
        match &item.kind {
            ItemKind::Star => {
                return Err(SqlError::at(item.at, "`*` cannot be used with GROUP BY"));
            }
            // NB: a SELECT with a row number lowers as a top-N, never here.
            ItemKind::RowNumber(_) => {}
            ItemKind::Agg(call) => {
                let name = item
                    .alias
                    .clone()
                    .unwrap_or_else(|| Text::at(call.name.clone(), Some(item.at)));
                selected.push((name.clone(), name.text.clone()));
                aggs.push(AggSpec {
                    name,
                    func: call.func,
                    arg: call.arg.as_ref().map(|a| a.text.clone()),
                    filter: call.filter.as_ref().map(|f| f.text.clone()),
                });
            }
            ItemKind::Expr(e) if is_window_column(e) => {
                let name = item
                    .alias
                    .clone()
                    .unwrap_or_else(|| Text::at(e.norm.clone(), Some(e.at)));
                selected.push((name, e.norm.clone()));
            }
            ItemKind::Expr(e) => {
                let alias = item.alias.as_ref().map(|a| a.text.to_lowercase());
                let Some(i) = keys
                    .iter()
                    .position(|k| k.expr.norm == e.norm || Some(&k.expr.norm) == alias.as_ref())
                else {
                    return Err(SqlError::at(
                        e.at,
                        format!("`{}` is neither in GROUP BY nor an aggregate", e.text.text),
                    ));
                };
                let name = column_name(item.alias.as_ref(), e)?;
                if keys[i].name.is_none() {
                    keys[i].name = Some(name.clone());
                    keys[i].expr = e;
                    order.push(i);
                }
                let column = keys[i]
                    .name
                    .as_ref()
                    .map_or(String::new(), |n| n.text.clone());
                selected.push((name, column));
            }
        }
    }
    let group_by = group_fields(&keys, &order)?;
    let mut columns: Vec<String> = Vec::new();
    if window.is_some() {
        columns.extend(["window_start".to_string(), "window_end".to_string()]);
    }
    columns.extend(group_by.iter().map(|(n, _)| n.text.clone()));
    columns.extend(aggs.iter().map(|a| a.name.text.clone()));
    steps.push(StepSpec::Aggregate {
        window: window_options(out, window)?,
        group_by,
        aggs,
        origin: Origin {
            offset: Some(window.map_or(group_at, |w| w.at)),
        },
    });
    if let Some(having) = &q.having {
        steps.push(StepSpec::Filter(having_text(q, having, remaps)?));
    }
    let same = selected.len() == columns.len()
        && selected
            .iter()
            .zip(&columns)
            .all(|((n, c), col)| n.text == *c && c == col);
    if !same {
        let fields = selected
            .into_iter()
            .map(|(name, column)| {
                let at = name.origin.offset;
                (name, Text::at(quoted(&column), at))
            })
            .collect();
        steps.push(StepSpec::Map(fields));
    }
    Ok(())
}

/// The group fields: the selected keys in SELECT order, then the others (named by their
/// last name).
fn group_fields(keys: &[Key], order: &[usize]) -> Result<Vec<(Text, Text)>, SqlError> {
    let mut fields = Vec::new();
    for &i in order {
        let key = &keys[i];
        let name = key.name.clone().unwrap_or_default();
        fields.push((name, key.expr.text.clone()));
    }
    for key in keys.iter().filter(|k| k.name.is_none()) {
        fields.push((column_name(None, key.expr)?, key.expr.text.clone()));
    }
    Ok(fields)
}

/// A windowed aggregate groups by `window_start, window_end`; a session's PARTITION BY
/// lists exactly the other keys (sessions are per group).
fn check_window_groups(
    w: &WindowTvf,
    groups: &[Captured],
    keys: &[Key],
    group_at: usize,
) -> Result<(), SqlError> {
    let has = |name: &str| groups.iter().any(|g| g.norm == name);
    if !has("window_start") || !has("window_end") {
        return Err(SqlError::at(
            group_at,
            "a windowed aggregate needs GROUP BY window_start, window_end[, …]",
        ));
    }
    if let WindowKind::Session { .. } = w.kind {
        let partition: BTreeSet<&str> = w.partition.iter().map(|p| p.norm.as_str()).collect();
        let others: BTreeSet<&str> = keys.iter().map(|k| k.expr.norm.as_str()).collect();
        if partition != others {
            return Err(SqlError::at(
                w.at,
                "sessions are per group: SESSION's PARTITION BY must list the GROUP BY's columns other than window_start, window_end",
            ));
        }
    }
    Ok(())
}

/// HAVING's text, each aggregate call in it replaced by the column of the same call in the
/// SELECT list (`HAVING count(*) > 1` with `count(*) AS n` reads `"n" > 1`).
fn having_text(q: &Select, having: &Captured, remaps: &mut Vec<Remap>) -> Result<Text, SqlError> {
    let mut replacements = Vec::new();
    for call in &having.calls {
        let column = q.items.iter().find_map(|item| match &item.kind {
            ItemKind::Agg(agg) if agg.norm == call.norm => Some(
                item.alias
                    .as_ref()
                    .map_or_else(|| agg.name.clone(), |a| a.text.clone()),
            ),
            _ => None,
        });
        let Some(column) = column else {
            return Err(SqlError::at(
                call.start,
                "HAVING may use the aggregates of the SELECT list: add this one there (`count(*) AS n`)",
            ));
        };
        replacements.push((call.start, call.end, quoted(&column)));
    }
    Ok(match replacements.is_empty() {
        true => having.text.clone(),
        false => rewrite(having, &replacements, remaps),
    })
}

/// A column name as an expression: a quoted identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
