//! `CREATE SINK`: sync targets, alerts, route handlers and routes, declared in SQL with the
//! options of their TOML sections (`[[sync]]`, `[[alerts]]`, `[routing.handlers.*]`,
//! `[[routes]]`; see `dataflow_file::outputs`).
//!
//! ```sql
//! CREATE SINK totals_to_redis FROM user_totals          -- a pipeline's changelog
//!   WITH (connector = 'redis', url = 'redis://127.0.0.1:6379/', prefix = 'totals:');
//! CREATE SINK users_to_pg FROM users                    -- a table source: its live keys
//!   WITH (connector = 'postgres', url = 'host=127.0.0.1 user=postgres dbname=test',
//!         table = 'users', conflict = 'last-writer-wins');
//! CREATE SINK big_spender FROM order_totals
//!   WITH (connector = 'alert', condition = 'total > 2000', message = '{user} spent {total}',
//!         deliver = 'log, webhook', webhook.url = 'http://127.0.0.1:8080/alerts');
//! CREATE SINK removed WITH (connector = 'handler', kind = 'each');
//! CREATE SINK deletes WITH (connector = 'route', kinds = 'delete', handlers = 'removed');
//! SET routing.counts_window_ms = 1000;
//! ```
//!
//! Decision: one statement family for everything that is not a file output. `connector`
//! says what the sink is (as in Flink's and RisingWave's `WITH ('connector' = …)`), and the
//! other options are the TOML section's keys, so the two front ends cannot drift: the SQL
//! statement is checked and converted by the same code as the TOML section (the loader
//! writes the statements as those sections, `dataflow_file::sql_sinks`). A sync target's
//! `kind`, `url`, `prefix`, `table` and `versions` are plain options (`connector` is its
//! kind), its standby's are `standby.<key>`; a list is a comma-separated string; an alert's
//! webhook options are `webhook.<key>`. Only the names and the value forms are checked here.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::statement::{Opt, OptValue, list_items, raw_options};
use super::{SqlError, SqlFile};
use crate::expr::suggest;
use crate::plan::lower::Text;

/// What a sink is, from its `connector` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// A sync target of this kind: `redis`, `postgres` or `kvflow`.
    Sync(&'static str),
    Alert,
    Handler,
    Route,
}

impl Connector {
    /// What the sink is, in messages: sync sink, alert, handler or route.
    pub fn kind(self) -> &'static str {
        match self {
            Connector::Sync(_) => "sync sink",
            Connector::Alert => "alert",
            Connector::Handler => "handler",
            Connector::Route => "route",
        }
    }
}

const CONNECTORS: &[&str] = &["redis", "postgres", "kvflow", "alert", "handler", "route"];

/// A sync target's own keys (TOML: inside `target = { … }`, `standby = { … }`).
pub const TARGET_KEYS: &[&str] = &["url", "prefix", "table", "versions"];

const SYNC_KEYS: &[&str] = &[
    "key",
    "ts",
    "conflict",
    "conflict_log",
    "origin",
    "target_origin",
    "batch_size",
    "batch_timeout_ms",
    "queue",
    "max_retries",
    "retry_delay_ms",
    "retry_cap_ms",
    "health_interval_ms",
    "health_failures",
    "timeout_ms",
    "tombstone_retention_ms",
    "standby.connector",
    "standby.url",
    "standby.prefix",
    "standby.table",
    "standby.versions",
];

/// An alert's keys; `webhook.<key>` are the options of its webhook delivery.
pub const WEBHOOK_KEYS: &[&str] = &[
    "url",
    "timeout_ms",
    "max_retries",
    "retry_delay_ms",
    "retry_cap_ms",
    "queue",
    "ca_file",
];

const ALERT_KEYS: &[&str] = &[
    "condition",
    "message",
    "severity",
    "group_by",
    "cooldown_ms",
    "time",
    "deliver",
];

const HANDLER_KEYS: &[&str] = &["kind", "condition", "action", "size", "timeout_ms"];
const ROUTE_KEYS: &[&str] = &["kinds", "key_regex", "priority", "handlers"];

/// The options whose TOML value is a list: a comma-separated string in SQL.
const LIST_KEYS: &[&str] = &["key", "group_by", "deliver", "kinds", "handlers"];

/// One `CREATE SINK`.
#[derive(Clone, Debug)]
pub struct SinkStatement {
    /// The offset of `CREATE`.
    pub at: usize,
    pub name: Text,
    pub from: Option<Text>,
    pub connector: Connector,
    /// The offset of the connector's value (its opening quote).
    pub connector_at: usize,
    /// Every option but `connector`, in the statement's order.
    pub options: Vec<SinkOption>,
}

/// An option: its key (as written, with any `standby.` or `webhook.` prefix) and value.
#[derive(Clone, Debug)]
pub struct SinkOption {
    pub key: String,
    pub key_at: usize,
    pub value: SinkValue,
    /// The offset of the value (of a string's opening quote).
    pub value_at: usize,
}

#[derive(Clone, Debug)]
pub enum SinkValue {
    Str(String),
    Int(u64),
    Float(f64),
    Bool(bool),
    /// The items of a comma-separated string, each with the offset of its first character.
    List(Vec<(String, usize)>),
}

impl SinkStatement {
    /// The names this connector takes (besides `connector`).
    fn allowed(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let plain = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        match self.connector {
            Connector::Sync(_) => {
                keys.extend(plain(TARGET_KEYS));
                keys.extend(plain(SYNC_KEYS));
            }
            Connector::Alert => {
                keys.extend(plain(ALERT_KEYS));
                keys.extend(WEBHOOK_KEYS.iter().map(|k| format!("webhook.{k}")));
            }
            Connector::Handler => keys.extend(plain(HANDLER_KEYS)),
            Connector::Route => keys.extend(plain(ROUTE_KEYS)),
        }
        keys
    }
}

/// `CREATE SINK name [FROM name] WITH (connector = '…', …)`, after `CREATE SINK`.
pub(super) fn sink(cur: &mut Cursor, file: &mut SqlFile, at: usize) -> Result<(), SqlError> {
    let name = cur.name("the sink's name")?;
    let from = match cur.eat_word("FROM") {
        true if cur.is_word("WITH") && *cur.peek_nth(1) == Token::LParen => {
            return Err(cur.unexpected("the pipeline, view or source the sink reads, after FROM"));
        }
        true => Some(cur.name("the pipeline, view or source the sink reads")?),
        false => None,
    };
    if !cur.is_word("WITH") {
        return Err(cur.unexpected("WITH (connector = '…', …)"));
    }
    let opts = raw_options(cur)?;
    let (connector, connector_at) = connector(&opts, at)?;
    let mut statement = SinkStatement {
        at,
        name,
        from,
        connector,
        connector_at,
        options: Vec::new(),
    };
    check_from(&statement)?;
    let allowed = statement.allowed();
    for opt in opts.iter().filter(|o| o.key.text != "connector") {
        statement.options.push(sink_option(opt, &allowed)?);
    }
    // Each kind of sink has its own names, as each TOML section has (their files differ:
    // `<name>.routed.jsonl`, `<name>.alerts.jsonl`, `<name>.dead-letter.jsonl`).
    let kind = statement.connector.kind();
    if file
        .sinks
        .iter()
        .any(|s| s.name.text == statement.name.text && s.connector.kind() == kind)
    {
        return Err(SqlError::at(
            statement.name.origin.offset.unwrap_or(at),
            format!("two {kind}s named `{}`", statement.name.text),
        ));
    }
    file.sinks.push(statement);
    Ok(())
}

/// The `connector` option: required, one of [`CONNECTORS`].
fn connector(opts: &[Opt], at: usize) -> Result<(Connector, usize), SqlError> {
    let opt = opts
        .iter()
        .find(|o| o.key.text == "connector")
        .ok_or_else(|| {
            SqlError::at(
                at,
                format!(
                    "a sink needs `connector = '…'`, one of: {}",
                    CONNECTORS.join(", ")
                ),
            )
        })?;
    let OptValue::Str(text) = &opt.value else {
        return Err(SqlError::at(opt.at, "`connector` takes a string"));
    };
    let connector = match text.as_str() {
        "redis" => Connector::Sync("redis"),
        "postgres" => Connector::Sync("postgres"),
        "kvflow" => Connector::Sync("kvflow"),
        "alert" => Connector::Alert,
        "handler" => Connector::Handler,
        "route" => Connector::Route,
        other => {
            return Err(SqlError::at(
                opt.at + 1,
                format!(
                    "unknown connector `{other}`, expected one of: {}",
                    CONNECTORS.join(", ")
                ),
            )
            .suggest(suggest(other, CONNECTORS)));
        }
    };
    Ok((connector, opt.at))
}

/// Sync targets and alerts read a pipeline or a source; handlers and routes read the store.
fn check_from(statement: &SinkStatement) -> Result<(), SqlError> {
    let reads = matches!(statement.connector, Connector::Sync(_) | Connector::Alert);
    match (&statement.from, reads) {
        (None, true) => Err(SqlError::at(
            statement.name.origin.offset.unwrap_or(statement.at),
            format!(
                "sink `{}` needs FROM: the pipeline, view or table source it reads",
                statement.name.text
            ),
        )),
        (Some(from), false) => Err(SqlError::at(
            from.origin.offset.unwrap_or(statement.at),
            "a handler or a route reads every change of the store: it takes no FROM \
             (a route's `kinds` and `key_regex` choose the changes)",
        )),
        _ => Ok(()),
    }
}

fn sink_option(opt: &Opt, allowed: &[String]) -> Result<SinkOption, SqlError> {
    let key = &opt.key.text;
    let key_at = opt.key.origin.offset.unwrap_or(opt.at);
    if !allowed.iter().any(|k| k == key) {
        let names: Vec<&str> = allowed.iter().map(String::as_str).collect();
        return Err(SqlError::at(
            key_at,
            format!(
                "unknown option `{key}` for this connector, expected one of: connector, {}",
                names.join(", ")
            ),
        )
        .suggest(suggest(key, &names)));
    }
    let value = match &opt.value {
        OptValue::Str(text) if LIST_KEYS.contains(&key.as_str()) => {
            SinkValue::List(list_items(text, opt.at + 1))
        }
        _ if LIST_KEYS.contains(&key.as_str()) => {
            return Err(SqlError::at(
                opt.at,
                format!("`{key}` takes a string: its items separated by commas"),
            ));
        }
        OptValue::Str(text) => SinkValue::Str(text.clone()),
        OptValue::Int(n) => SinkValue::Int(*n),
        OptValue::Float(f) => SinkValue::Float(*f),
        OptValue::Bool(b) => SinkValue::Bool(*b),
    };
    Ok(SinkOption {
        key: key.clone(),
        key_at,
        value,
        value_at: opt.at,
    })
}
