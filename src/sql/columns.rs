//! Typed source columns: `CREATE SOURCE bid (value.price AS price BIGINT, channel VARCHAR, …)
//! FROM events …` names the value's fields and their types once, so later statements read
//! columns (`price`) instead of paths and casts (`CAST(value.price AS BIGINT)`), as a Flink
//! table's DDL declares its columns.
//!
//! A column is `<expression> AS <name> [<type>]`, or `<name> <type>` for `value.<name>`. The
//! type is one of the CAST targets (BIGINT, INT, DOUBLE, VARCHAR, BOOLEAN and their aliases);
//! without one the expression's own type is kept.
//!
//! Decision: a source with columns is the plain source, named `<name>_raw`, and one map step
//! that keeps the fields every row has (`key`, `ts`, `seq`, and `kind` on the events view)
//! and appends the columns. A statement that reads the source (`FROM bid`) starts with that
//! step, over `<name>_raw`: its rows stay the source's rows (an events source's output is
//! still written as plain rows, not a changelog), windows still read `ts`, and a value whose
//! field does not cast (`"price": "n/a"` as BIGINT) is a record on that statement's error
//! output, never a panic. Where a statement joins the source (either side) or a union names
//! it, the step is an internal pipeline `<name>` of its own, read as a `CREATE VIEW` of the
//! columns would be (a join names its columns after its inputs, `bid.price`): a join of two
//! such inputs is then a regular join, not the lookup of an event in a table that a join of a
//! plain events source makes. The plan is one a TOML file can write.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{SqlError, SqlFile};
use crate::plan::View;
use crate::plan::lower::{PipelineSpec, SourceSpec, StepSpec, Text};

/// The CAST targets a column may name, as written in the CAST built for it.
const TYPES: &[(&str, &str)] = &[
    ("BIGINT", "BIGINT"),
    ("INT", "BIGINT"),
    ("INTEGER", "BIGINT"),
    ("SMALLINT", "BIGINT"),
    ("TINYINT", "BIGINT"),
    ("DOUBLE", "DOUBLE"),
    ("FLOAT", "DOUBLE"),
    ("REAL", "DOUBLE"),
    ("VARCHAR", "VARCHAR"),
    ("STRING", "VARCHAR"),
    ("TEXT", "VARCHAR"),
    ("BOOLEAN", "BOOLEAN"),
    ("BOOL", "BOOLEAN"),
];

/// `(column, …)` after a source's name, the `(` already read: each column's name and the
/// expression that computes it.
pub(super) fn columns(cur: &mut Cursor) -> Result<Vec<(Text, Text)>, SqlError> {
    let mut columns: Vec<(Text, Text)> = Vec::new();
    loop {
        let column = column(cur)?;
        if let Some(fixed) = FIXED.iter().find(|f| **f == column.0.text) {
            return Err(SqlError::at(
                column.0.origin.offset.unwrap_or(0),
                format!("`{fixed}` is a field of every source row: name the column otherwise"),
            ));
        }
        if columns.iter().any(|(name, _)| name.text == column.0.text) {
            return Err(SqlError::at(
                column.0.origin.offset.unwrap_or(0),
                format!("column `{}` is declared twice", column.0.text),
            ));
        }
        columns.push(column);
        if cur.eat(&Token::RParen) {
            return Ok(columns);
        }
        if !cur.eat(&Token::Comma) {
            return Err(cur.unexpected("`,` or `)` after a column"));
        }
    }
}

/// The fields every source row keeps before its columns.
const FIXED: &[&str] = &["key", "ts", "kind", "seq"];

/// One column: its name and its expression (a CAST when a type is given).
fn column(cur: &mut Cursor) -> Result<(Text, Text), SqlError> {
    let expr = cur.expr()?;
    let (name, path) = if cur.eat_word("AS") {
        (cur.name("the column's name")?, expr.text)
    } else {
        let name = expr.text;
        if !name.text.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(SqlError::at(
                expr.at,
                "name the column: `<expression> AS <name> [<type>]`, or `<name> <type>` for `value.<name>`",
            ));
        }
        let at = name.origin.offset.map(|o| o.saturating_sub("value.".len()));
        let path = Text::at(format!("value.{}", name.text), at);
        (name, path)
    };
    let Some(ty) = column_type(cur)? else {
        return Ok((name, path));
    };
    // NB: the origin moves back by the `CAST(` in front, so a position inside the path
    // still points at the same character of the file.
    let at = path.origin.offset.map(|o| o.saturating_sub("CAST(".len()));
    let cast = Text::at(format!("CAST({} AS {ty})", path.text), at);
    Ok((name, cast))
}

/// The column's type, if one follows.
fn column_type(cur: &mut Cursor) -> Result<Option<&'static str>, SqlError> {
    if matches!(cur.peek(), Token::Comma | Token::RParen) {
        return Ok(None);
    }
    let at = cur.at();
    let word = cur.name("a column type")?;
    let upper = word.text.to_ascii_uppercase();
    match TYPES.iter().find(|(name, _)| *name == upper) {
        Some((_, cast)) => Ok(Some(cast)),
        None => {
            let names: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
            Err(SqlError::at(
                at,
                format!(
                    "unknown column type `{}`, expected one of: {}",
                    word.text,
                    names.join(", ")
                ),
            )
            .suggest(crate::expr::suggest(&upper, &names)))
        }
    }
}

/// Adds a source with columns to `file`: the source as `<name>_raw`, and the internal pipeline
/// `<name>` of its columns (see the module doc).
pub(super) fn add_typed_source(
    file: &mut SqlFile,
    mut spec: SourceSpec,
    columns: Vec<(Text, Text)>,
) {
    let name = spec.name.clone();
    let at = name.origin.offset;
    let raw = Text::at(format!("{}_raw", name.text), at);
    let mut fields: Vec<(Text, Text)> = FIXED
        .iter()
        .filter(|f| spec.view == View::Events || **f != "kind")
        .map(|f| (Text::at(*f, at), Text::at(*f, at)))
        .collect();
    fields.extend(columns);
    spec.name = raw.clone();
    file.sources.push(spec);
    file.typed_sources.push(name.text.clone());
    file.pipelines.push(PipelineSpec {
        name,
        from: raw,
        steps: vec![StepSpec::Map(fields)],
        final_state: false,
        internal: true,
    });
}

/// Moves each typed source's map step into the statements that read the source, and drops
/// its pipeline where no join or union still names it (see the module doc).
pub(super) fn inline_typed_sources(file: &mut SqlFile) {
    for name in std::mem::take(&mut file.typed_sources) {
        let Some(at) = file.pipelines.iter().position(|p| p.name.text == name) else {
            continue;
        };
        let typed = file.pipelines[at].clone();
        // NB: a join names its columns after its inputs (`bid.price`), so a statement that
        // joins keeps reading the pipeline by the source's name.
        let inlined = |p: &PipelineSpec| p.from.text == name && !p.steps.iter().any(joins);
        for reader in file.pipelines.iter_mut().filter(|p| inlined(p)) {
            reader.from = typed.from.clone();
            reader.steps.splice(0..0, typed.steps.iter().cloned());
        }
        let read =
            |p: &PipelineSpec| p.from.text == name || p.steps.iter().any(|s| names_input(s, &name));
        if !file.pipelines.iter().any(read) {
            file.pipelines.remove(at);
        }
    }
}

/// Whether `step` reads another input.
fn joins(step: &StepSpec) -> bool {
    matches!(
        step,
        StepSpec::Join { .. }
            | StepSpec::Union { .. }
            | StepSpec::IntervalJoin { .. }
            | StepSpec::WindowJoin { .. }
    )
}

/// Whether `step` reads `name` as its other input.
fn names_input(step: &StepSpec, name: &str) -> bool {
    match step {
        StepSpec::Join { with, .. } => with.text == name,
        StepSpec::Union { with } => with.iter().any(|w| w.text == name),
        StepSpec::IntervalJoin { on, .. } | StepSpec::WindowJoin { on, .. } => on.with.text == name,
        _ => false,
    }
}
