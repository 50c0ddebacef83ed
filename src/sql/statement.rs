//! Statements: `CREATE SOURCE`, `CREATE VIEW`, `INSERT INTO`, `SET input.<key>`, and the
//! `WITH (key = value, …)` options of the first three.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::from::interval_ms;
use super::lower::{Output, lower_statement};
use super::query::select;
use super::{Setting, SettingScope, SettingValue, SqlError, SqlFile};
use crate::change::EventKind;
use crate::expr::suggest;
use crate::plan::lower::{SourceSpec, Text};
use crate::plan::{Emission, View};

/// A `WITH` option's value and the offset of the value.
#[derive(Clone, Debug)]
pub(super) enum OptValue {
    Str(String),
    Int(u64),
    Float(f64),
    Bool(bool),
}

pub(super) struct Opt {
    pub key: Text,
    pub value: OptValue,
    pub at: usize,
}

const SOURCE_OPTIONS: &[&str] = &["key_regex", "kinds", "max_out_of_orderness"];
const VIEW_OPTIONS: &[&str] = &["emit", "allowed_lateness"];
const INSERT_OPTIONS: &[&str] = &["final_state", "emit", "allowed_lateness"];

/// Every statement of the file, then a check that something is written.
pub(super) fn statements(cur: &mut Cursor) -> Result<SqlFile, SqlError> {
    let mut file = SqlFile::default();
    loop {
        while cur.eat(&Token::SemiColon) {}
        if cur.at_end() {
            break;
        }
        statement(cur, &mut file)?;
        if !cur.at_end() && !cur.eat(&Token::SemiColon) {
            return Err(cur.unexpected("`;` at the end of the statement"));
        }
    }
    super::columns::inline_typed_sources(&mut file);
    if !file.pipelines.iter().any(|p| !p.internal) && file.sinks.is_empty() {
        return Err(SqlError::at(
            cur.at(),
            "no outputs: an SQL file needs at least one `INSERT INTO name SELECT …` or \
             `CREATE SINK`",
        ));
    }
    Ok(file)
}

fn statement(cur: &mut Cursor, file: &mut SqlFile) -> Result<(), SqlError> {
    let at = cur.at();
    if cur.eat_word("CREATE") {
        if cur.eat_word("SOURCE") {
            return source(cur, file);
        }
        if cur.eat_word("VIEW") {
            return query_statement(cur, file, true);
        }
        if cur.eat_word("SINK") {
            return super::sinks::sink(cur, file, at);
        }
        return Err(cur.unexpected("SOURCE, VIEW or SINK after CREATE"));
    }
    if cur.eat_word("INSERT") {
        cur.expect_word("INTO", "INTO after INSERT")?;
        return query_statement(cur, file, false);
    }
    if cur.eat_word("SET") {
        return set(cur, file);
    }
    Err(cur.unexpected("a statement (CREATE SOURCE, CREATE VIEW, CREATE SINK, INSERT INTO or SET)"))
}

/// `CREATE SOURCE name [(column, …)] FROM events|table [WITH (…)]` (columns: `columns.rs`).
fn source(cur: &mut Cursor, file: &mut SqlFile) -> Result<(), SqlError> {
    let name = cur.name("the source's name")?;
    let columns = match cur.eat(&Token::LParen) {
        true => Some(super::columns::columns(cur)?),
        false => None,
    };
    cur.expect_word("FROM", "FROM events or FROM table")?;
    let view_at = cur.at();
    let view = match cur.name("events or table")? {
        v if v.text.eq_ignore_ascii_case("events") => View::Events,
        v if v.text.eq_ignore_ascii_case("table") => View::Table,
        v => {
            return Err(SqlError::at(
                view_at,
                format!("unknown view `{}`, expected one of: events, table", v.text),
            )
            .suggest(suggest(&v.text.to_lowercase(), &["events", "table"])));
        }
    };
    let mut spec = SourceSpec {
        name,
        view,
        kinds: Vec::new(),
        key_regex: None,
        max_out_of_orderness: 0,
    };
    for opt in options(cur, SOURCE_OPTIONS)? {
        match opt.key.text.as_str() {
            "key_regex" => spec.key_regex = Some(Text::at(string(&opt)?, Some(opt.at + 1))),
            "kinds" => spec.kinds = kinds(&opt, view)?,
            _ => spec.max_out_of_orderness = int(&opt)?,
        }
    }
    match columns {
        Some(columns) => super::columns::add_typed_source(file, spec, columns),
        None => file.sources.push(spec),
    }
    Ok(())
}

/// `kinds = 'insert,update'`.
fn kinds(opt: &Opt, view: View) -> Result<Vec<EventKind>, SqlError> {
    if view == View::Table {
        return Err(SqlError::at(
            opt.key.origin.offset.unwrap_or(opt.at),
            "a table view has no event kinds to filter (use FROM events)",
        ));
    }
    let text = string(opt)?;
    let names = EventKind::ALL.map(|k| k.name());
    let mut kinds = Vec::new();
    for (name, at) in list_items(&text, opt.at + 1) {
        let name = name.as_str();
        match EventKind::ALL.iter().find(|k| k.name() == name) {
            Some(kind) => kinds.push(*kind),
            None => {
                return Err(SqlError::at(
                    at,
                    format!(
                        "unknown event kind `{name}`, expected one of: {}",
                        names.join(", ")
                    ),
                )
                .suggest(suggest(name, &names)));
            }
        }
    }
    Ok(kinds)
}

/// The trimmed items of a comma-separated `text` (which starts at offset `at`), each with the
/// offset of its first character.
pub(super) fn list_items(text: &str, at: usize) -> Vec<(String, usize)> {
    let mut items = Vec::new();
    let mut start = 0;
    for piece in text.split(',') {
        let lead = piece.len() - piece.trim_start().len();
        items.push((piece.trim().to_string(), at + start + lead));
        start += piece.len() + 1;
    }
    items
}

/// `CREATE VIEW name [WITH (…)] AS SELECT …` or `INSERT INTO name [WITH (…)] SELECT …`.
fn query_statement(cur: &mut Cursor, file: &mut SqlFile, internal: bool) -> Result<(), SqlError> {
    let name = cur.name(if internal {
        "the view's name"
    } else {
        "the output's name"
    })?;
    let allowed = if internal {
        VIEW_OPTIONS
    } else {
        INSERT_OPTIONS
    };
    let mut output = Output {
        name,
        internal,
        final_state: false,
        emission: None,
        allowed_lateness: None,
    };
    for opt in options(cur, allowed)? {
        let key_at = opt.key.origin.offset.unwrap_or(opt.at);
        match opt.key.text.as_str() {
            "final_state" => output.final_state = boolean(&opt)?,
            "emit" => output.emission = Some((emission(&opt)?, key_at)),
            _ => output.allowed_lateness = Some((int(&opt)?, key_at)),
        }
    }
    if internal {
        cur.expect_word("AS", "AS before the view's SELECT")?;
    }
    let query = select(cur, 0)?;
    let lowered = lower_statement(&query, &output)?;
    file.pipelines.extend(lowered.specs);
    file.remaps.extend(lowered.remaps);
    Ok(())
}

fn emission(opt: &Opt) -> Result<Emission, SqlError> {
    match string(opt)?.as_str() {
        "final" => Ok(Emission::Final),
        "continuous" => Ok(Emission::Continuous),
        other => Err(SqlError::at(
            opt.at,
            format!("unknown emit `{other}`, expected one of: final, continuous"),
        )
        .suggest(suggest(other, &["final", "continuous"]))),
    }
}

/// `SET input.<key> = <value>` or `SET store.<key> = <value>`.
fn set(cur: &mut Cursor, file: &mut SqlFile) -> Result<(), SqlError> {
    let scope_name = cur.name("`input.<key>`")?;
    let scope = match scope_name.text.to_ascii_lowercase().as_str() {
        "input" => SettingScope::Input,
        "store" => SettingScope::Store,
        "routing" => SettingScope::Routing,
        _ => {
            return Err(SqlError::at(
                scope_name.origin.offset.unwrap_or(0),
                "SET takes the default input's settings (`SET input.file = '…'`, `SET input.generate = '…'`), the store's (`SET store.append_only_keys = '…'`) or the routes' (`SET routing.counts_window_ms = …`)",
            ));
        }
    };
    if !cur.eat(&Token::Period) {
        return Err(cur.unexpected("`.` and the setting's name"));
    }
    let key = cur.name("the setting's name")?;
    if !cur.eat(&Token::Eq) && !cur.eat_word("TO") {
        return Err(cur.unexpected("`=`"));
    }
    let value_at = cur.at();
    let value = match value(cur)? {
        OptValue::Str(s) => SettingValue::Str(s),
        OptValue::Int(n) => SettingValue::Int(n),
        OptValue::Float(f) => SettingValue::Float(f),
        OptValue::Bool(_) => return Err(SqlError::at(value_at, "expected a string or a number")),
    };
    file.settings.push(Setting {
        scope,
        key: key.text,
        key_at: key.origin.offset.unwrap_or(0),
        value,
        value_at,
    });
    Ok(())
}

/// `WITH (key = value, …)`, if present, with every key one of `allowed` and none twice.
fn options(cur: &mut Cursor, allowed: &[&str]) -> Result<Vec<Opt>, SqlError> {
    let opts = raw_options(cur)?;
    for opt in &opts {
        let key = &opt.key;
        if !allowed.contains(&key.text.as_str()) {
            return Err(SqlError::at(
                key.origin.offset.unwrap_or(opt.at),
                format!(
                    "unknown option `{}`, expected one of: {}",
                    key.text,
                    allowed.join(", ")
                ),
            )
            .suggest(suggest(&key.text, allowed)));
        }
    }
    Ok(opts)
}

/// `WITH (key = value, …)`, if present, with no key twice; a key may be dotted
/// (`standby.url`).
pub(super) fn raw_options(cur: &mut Cursor) -> Result<Vec<Opt>, SqlError> {
    if !(cur.is_word("WITH") && *cur.peek_nth(1) == Token::LParen) {
        return Ok(Vec::new());
    }
    cur.next();
    cur.next();
    let mut opts: Vec<Opt> = Vec::new();
    loop {
        let key_at = cur.at();
        let key = option_name(cur)?;
        if opts.iter().any(|o| o.key.text == key.text) {
            return Err(SqlError::at(
                key_at,
                format!("option `{}` is set twice", key.text),
            ));
        }
        cur.expect(&Token::Eq, "`=` after the option's name")?;
        let at = cur.at();
        let value = value(cur)?;
        opts.push(Opt { key, value, at });
        if !cur.eat(&Token::Comma) {
            break;
        }
    }
    cur.expect(&Token::RParen, "`,` or `)` in the options")?;
    Ok(opts)
}

/// An option's name: a quoted string, or names joined by `.`.
fn option_name(cur: &mut Cursor) -> Result<Text, SqlError> {
    let key_at = cur.at();
    if let Token::SingleQuotedString(s) = cur.peek().clone() {
        cur.next();
        return Ok(Text::at(s, Some(key_at)));
    }
    let mut key = cur.name("an option's name")?;
    while cur.eat(&Token::Period) {
        let part = cur.name("the rest of the option's name after `.`")?;
        key.text = format!("{}.{}", key.text, part.text);
    }
    Ok(key)
}

/// A string, a non-negative number, `true`/`false` or an interval (as milliseconds).
fn value(cur: &mut Cursor) -> Result<OptValue, SqlError> {
    let at = cur.at();
    match cur.peek().clone() {
        Token::SingleQuotedString(s) => {
            cur.next();
            Ok(OptValue::Str(s))
        }
        Token::Number(n, _) => {
            cur.next();
            match (n.parse::<u64>(), n.parse::<f64>()) {
                (Ok(n), _) => Ok(OptValue::Int(n)),
                (_, Ok(f)) if f.is_finite() => Ok(OptValue::Float(f)),
                _ => Err(SqlError::at(at, format!("`{n}` is out of range"))),
            }
        }
        _ if cur.is_word("INTERVAL") => Ok(OptValue::Int(interval_ms(cur)?)),
        _ if cur.eat_word("TRUE") => Ok(OptValue::Bool(true)),
        _ if cur.eat_word("FALSE") => Ok(OptValue::Bool(false)),
        Token::Minus => Err(SqlError::at(at, "the value must not be negative")),
        _ => Err(cur.unexpected("a string, a number, true, false or an INTERVAL")),
    }
}

fn string(opt: &Opt) -> Result<String, SqlError> {
    match &opt.value {
        OptValue::Str(s) => Ok(s.clone()),
        _ => Err(SqlError::at(
            opt.at,
            format!("`{}` takes a string", opt.key.text),
        )),
    }
}

fn int(opt: &Opt) -> Result<u64, SqlError> {
    match &opt.value {
        OptValue::Int(n) => Ok(*n),
        _ => Err(SqlError::at(
            opt.at,
            format!(
                "`{}` takes milliseconds (an integer or an INTERVAL)",
                opt.key.text
            ),
        )),
    }
}

fn boolean(opt: &Opt) -> Result<bool, SqlError> {
    match &opt.value {
        OptValue::Bool(b) => Ok(*b),
        _ => Err(SqlError::at(
            opt.at,
            format!("`{}` takes true or false", opt.key.text),
        )),
    }
}
