//! FROM items: a source or view by name, a subquery with an alias, or a window table function
//! (Flink's forms): `TUMBLE(TABLE t, DESCRIPTOR(ts), size)`, `HOP(TABLE t, DESCRIPTOR(ts),
//! slide, size)` and `SESSION(TABLE t PARTITION BY k, …, DESCRIPTOR(ts), gap)`. Durations are
//! `INTERVAL 'n' UNIT` (or a bare number of milliseconds).

use sqlparser::tokenizer::Token;

use super::SqlError;
use super::cursor::{Captured, Cursor};
use super::query::{Select, select};
use crate::plan::WindowKind;
use crate::plan::lower::Text;

/// Words that end a FROM item (so they are never taken for an alias).
const CLAUSE_WORDS: &[&str] = &[
    "WHERE", "GROUP", "HAVING", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "ON", "ORDER",
    "LIMIT", "UNION", "WINDOW", "EMIT",
];

/// Nesting of subqueries accepted (keeps the parse's recursion bounded).
pub(super) const MAX_NESTING: usize = 16;

#[derive(Debug)]
pub(super) enum FromItem {
    Named(Text),
    /// A subquery; one without an alias is named after its statement when lowered.
    Sub {
        query: Box<Select>,
        alias: Option<Text>,
    },
    Window(WindowTvf),
}

#[derive(Debug)]
pub(super) struct WindowTvf {
    pub table: Text,
    pub kind: WindowKind,
    /// SESSION's `PARTITION BY` expressions.
    pub partition: Vec<Captured>,
    pub at: usize,
}

impl FromItem {
    /// The name its columns are qualified with after a join (`None`: a subquery without an
    /// alias).
    pub fn name(&self) -> Option<&Text> {
        match self {
            FromItem::Named(name) => Some(name),
            FromItem::Sub { alias, .. } => alias.as_ref(),
            FromItem::Window(w) => Some(&w.table),
        }
    }
}

pub(super) fn from_item(cur: &mut Cursor, depth: usize) -> Result<FromItem, SqlError> {
    let at = cur.at();
    if cur.eat(&Token::LParen) {
        if depth >= MAX_NESTING {
            return Err(SqlError::at(at, "subqueries are nested too deeply"));
        }
        let query = select(cur, depth + 1)?;
        cur.expect(&Token::RParen, "`)` after the subquery")?;
        let alias = match cur.eat_word("AS") {
            true => Some(cur.name("a name for the subquery (`(SELECT …) AS name`)")?),
            false => match cur.peek() {
                Token::Word(w) if !CLAUSE_WORDS.iter().any(|c| w.value.eq_ignore_ascii_case(c)) => {
                    Some(cur.name("a name for the subquery")?)
                }
                _ => None,
            },
        };
        return Ok(FromItem::Sub {
            query: Box::new(query),
            alias,
        });
    }
    // Flink's `TABLE(TUMBLE(…))` is the same as `TUMBLE(…)`.
    if cur.is_word("TABLE") && *cur.peek_nth(1) == Token::LParen {
        cur.next();
        cur.next();
        let inner_at = cur.at();
        let name = cur.name("a window table function: TUMBLE, HOP or SESSION")?;
        if *cur.peek() != Token::LParen {
            return Err(cur.unexpected("`(` after the window table function"));
        }
        let window = window(cur, &name, inner_at, false)?;
        cur.expect(&Token::RParen, "`)` after TABLE(…)")?;
        alias(cur, &window.table)?;
        return Ok(FromItem::Window(window));
    }
    let name = cur.name("a source, a view or a subquery")?;
    if *cur.peek() == Token::LParen {
        return window(cur, &name, at, true).map(FromItem::Window);
    }
    alias(cur, &name)?;
    Ok(FromItem::Named(name))
}

/// An optional alias of a named input (or a window over it): only its own name, since
/// columns after a join are qualified by the input's name.
fn alias(cur: &mut Cursor, name: &Text) -> Result<(), SqlError> {
    let explicit = cur.eat_word("AS");
    let takes = explicit
        || matches!(cur.peek(), Token::Word(w)
            if !CLAUSE_WORDS.iter().any(|c| w.value.eq_ignore_ascii_case(c)));
    if !takes {
        return Ok(());
    }
    let alias = cur.name("an alias")?;
    if alias.text != name.text {
        return Err(SqlError::at(
            alias.origin.offset.unwrap_or(0),
            format!(
                "aliases of a source or view are not supported: refer to it as `{}`",
                name.text
            ),
        ));
    }
    Ok(())
}

/// A window table function; `aliased`: an alias may follow.
fn window(cur: &mut Cursor, func: &Text, at: usize, aliased: bool) -> Result<WindowTvf, SqlError> {
    let kind = func.text.to_ascii_uppercase();
    if !["TUMBLE", "HOP", "SESSION"].contains(&kind.as_str()) {
        return Err(SqlError::at(
            at,
            format!(
                "unknown table function `{}`, expected one of: TUMBLE, HOP, SESSION",
                func.text
            ),
        ));
    }
    cur.next();
    cur.expect_word("TABLE", "TABLE <name> as the window's first argument")?;
    let table = cur.name("the windowed source or view")?;
    let mut partition = Vec::new();
    if kind == "SESSION" && cur.eat_word("PARTITION") {
        cur.expect_word("BY", "BY after PARTITION")?;
        loop {
            partition.push(cur.expr()?);
            if !cur.eat(&Token::Comma) || cur.is_word("DESCRIPTOR") {
                break;
            }
        }
    } else {
        cur.expect(&Token::Comma, "`,` after the table")?;
    }
    descriptor(cur)?;
    cur.expect(&Token::Comma, "`,` and the window's duration")?;
    let first = duration(cur, "the window's size")?;
    let kind = match kind.as_str() {
        "TUMBLE" => WindowKind::Tumbling { size: first },
        "SESSION" => WindowKind::Session { gap: first },
        _ => {
            cur.expect(
                &Token::Comma,
                "`,` and the window's size (HOP takes slide, size)",
            )?;
            let size = duration(cur, "the window's size")?;
            WindowKind::Sliding { size, slide: first }
        }
    };
    cur.expect(&Token::RParen, "`)` after the window's arguments")?;
    let window = WindowTvf {
        table,
        kind,
        partition,
        at,
    };
    if aliased {
        alias(cur, &window.table)?;
    }
    Ok(window)
}

/// `DESCRIPTOR(ts)`: windows are over the event time `ts`.
fn descriptor(cur: &mut Cursor) -> Result<(), SqlError> {
    cur.expect_word("DESCRIPTOR", "DESCRIPTOR(ts)")?;
    cur.expect(&Token::LParen, "`(` after DESCRIPTOR")?;
    let column = cur.name("the time column")?;
    if column.text != "ts" {
        return Err(SqlError::at(
            column.origin.offset.unwrap_or(0),
            format!(
                "windows are over the event time `ts`, not `{}`",
                column.text
            ),
        )
        .suggest(Some("ts".to_string())));
    }
    cur.expect(&Token::RParen, "`)` after the time column")
}

/// A positive duration in milliseconds: an INTERVAL or a bare number.
fn duration(cur: &mut Cursor, what: &str) -> Result<u64, SqlError> {
    let at = cur.at();
    let ms = match cur.peek().clone() {
        Token::Number(n, _) => {
            cur.next();
            n.parse::<u64>()
                .map_err(|_| SqlError::at(at, format!("`{n}` is not a whole number of ms")))?
        }
        _ if cur.is_word("INTERVAL") => interval_ms(cur)?,
        _ => return Err(cur.unexpected(&format!("{what} (e.g. INTERVAL '10' SECOND)"))),
    };
    match ms {
        0 => Err(SqlError::at(at, format!("{what} must be positive"))),
        ms => Ok(ms),
    }
}

/// `INTERVAL 'n' UNIT` in milliseconds; UNIT is MILLISECOND, SECOND, MINUTE, HOUR or DAY
/// (singular or plural).
pub(super) fn interval_ms(cur: &mut Cursor) -> Result<u64, SqlError> {
    cur.expect_word("INTERVAL", "INTERVAL")?;
    let at = cur.at();
    let amount = cur.string("a quoted amount, e.g. INTERVAL '10' SECOND")?;
    let n: u64 = amount
        .text
        .trim()
        .parse()
        .map_err(|_| SqlError::at(at, format!("`{}` is not a whole number", amount.text)))?;
    let unit_at = cur.at();
    let unit = cur.name("a unit: MILLISECOND, SECOND, MINUTE, HOUR or DAY")?;
    let upper = unit.text.to_ascii_uppercase();
    let scale = match upper.trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => {
            return Err(SqlError::at(
                unit_at,
                format!(
                    "unknown unit `{}`, expected MILLISECOND, SECOND, MINUTE, HOUR or DAY",
                    unit.text
                ),
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| SqlError::at(at, "the interval is out of range"))
}
