//! SQL dataflow files (`dataflows/*.sql`): a second front end over the same plan.
//!
//! A file is a list of statements, each ended by `;`. They build the same
//! [`SourceSpec`]s and [`PipelineSpec`]s a TOML file builds, so everything after the parse
//! (lowering, type checks, `explain`, the engine) is shared; `dataflow_file` lowers them.
//!
//! ```sql
//! SET input.file = 'window_counts.input.jsonl';    -- the default input (see below)
//! CREATE SOURCE events FROM events                 -- FROM events | FROM table
//!   WITH (max_out_of_orderness = 200, key_regex = '^order_', kinds = 'insert,update');
//! CREATE VIEW big AS SELECT key, ts, CAST(value.amount AS INT) AS amount FROM events
//!   WHERE value.amount > 10;                        -- internal: written nowhere
//! INSERT INTO per_second                            -- writes <DIR>/per_second.jsonl
//! SELECT window_start, window_end, split_part(key, '_', 1) AS prefix, count(*) AS n
//! FROM TUMBLE(TABLE big, DESCRIPTOR(ts), INTERVAL '1' SECOND)
//! GROUP BY window_start, window_end, split_part(key, '_', 1);
//! INSERT INTO live WITH (final_state = true) SELECT … ;
//! CREATE SINK live_to_redis FROM live WITH (connector = 'redis', url = 'redis://…/');
//! ```
//!
//! A statement becomes one pipeline named after its view or output (a subquery in `FROM`
//! becomes an internal pipeline named by its alias). A SELECT lowers to the steps a TOML
//! pipeline has, in this order: a window assignment when `FROM` is a `TUMBLE` or `HOP` without
//! an aggregate, the join (`FROM a [LEFT] JOIN b ON a.x = b.y AND …`: an interval join when ON
//! also holds `a.ts BETWEEN b.ts - … AND b.ts + …`, a window join when it equates both
//! `window_start` and `window_end`, an equi-join otherwise; several `JOIN`s are a chain of
//! equi-joins, each of the rows so far with one more input), `WHERE` (a filter), then either the aggregate (`GROUP BY`, optionally over a window table
//! function) or the projection, then `HAVING` (a filter over the aggregate's output, which
//! names its columns), then a projection when the SELECT list is not the aggregate's own
//! output (`window_start, window_end`, the group fields, the aggregates, in that order).
//! `SELECT DISTINCT` adds a distinct step last; `UNION ALL` makes each later SELECT an internal
//! pipeline (`<name>_union<n>`) and ends the first one's steps with their union. A subquery
//! that numbers its rows (`ROW_NUMBER() OVER (…) AS rownum`) under a query keeping `rownum <=
//! N` is a top-N step (see `rank.rs`); a subquery without an alias is named
//! `<statement>_sub<n>`.
//! Expressions are the TOML expression language, passed on as the file's text with its
//! offset, so an error inside one points into the `.sql` file.
//!
//! `SET input.<key> = <value>` takes the keys of a TOML file's `[input]` table (`file`,
//! `generate`, `events`, `seed`, …), `SET store.<key> = <value>` those of its `[store]`
//! table and `SET routing.<key>` those of `[routing]`; `CREATE SINK` declares sync targets,
//! alerts, route handlers and routes (`sinks.rs`); `docs/sql.md` is the reference.
//!
//! Layout: `cursor.rs` (tokens, offsets, captured expressions), `statement.rs` (statements and
//! their `WITH` options), `sinks.rs` (`CREATE SINK`), `query.rs` (the SELECT grammar),
//! `from.rs` (FROM items and window table functions), `lower.rs` (a SELECT into pipeline
//! specs), `group.rs` (its aggregate) and `rank.rs` (its top-N).

mod columns;
mod cursor;
mod from;
mod group;
mod lower;
mod query;
mod rank;
mod rewrite;
pub mod sinks;
mod statement;
#[cfg(test)]
mod tests;

use crate::plan::lower::{LowerError, PipelineSpec, SourceSpec};

/// What an SQL file declares, before lowering.
#[derive(Clone, Debug, Default)]
pub struct SqlFile {
    pub sources: Vec<SourceSpec>,
    pub pipelines: Vec<PipelineSpec>,
    /// The `SET input.<key>`, `SET store.<key>` and `SET routing.<key>` statements, in order.
    pub settings: Vec<Setting>,
    /// The `CREATE SINK` statements, in order (`sinks.rs`).
    pub sinks: Vec<sinks::SinkStatement>,
    /// The sources declared with columns, until their map steps are placed (`columns.rs`).
    typed_sources: Vec<String>,
    /// Expressions passed on with qualifiers cut out (`orders.value.id` -> `value.id`).
    remaps: Vec<rewrite::Remap>,
}

impl SqlFile {
    /// The file offset of an `offset` that lowering reported (inside a rewritten text, the
    /// position in the file's own text).
    pub fn file_offset(&self, offset: usize) -> usize {
        self.remaps
            .iter()
            .find_map(|r| r.file_offset(offset))
            .unwrap_or(offset)
    }
}

/// One `SET <scope>.<key> = <value>`: the scope (`input` or `store`), the key without it, and
/// the offsets of the key and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub scope: SettingScope,
    pub key: String,
    pub key_at: usize,
    pub value: SettingValue,
    pub value_at: usize,
}

/// What a `SET` sets: the default input (TOML's `[input]`), the store (`[store]`) or the
/// routes (`[routing]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingScope {
    Input,
    Store,
    Routing,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Str(String),
    Int(u64),
    Float(f64),
}

/// A problem at a byte offset of the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    pub offset: usize,
    pub message: String,
    pub suggestion: Option<String>,
}

impl SqlError {
    pub(crate) fn at(offset: usize, message: impl Into<String>) -> SqlError {
        SqlError {
            offset,
            message: message.into(),
            suggestion: None,
        }
    }

    fn suggest(mut self, suggestion: Option<String>) -> SqlError {
        self.suggestion = suggestion;
        self
    }
}

impl From<LowerError> for SqlError {
    fn from(e: LowerError) -> SqlError {
        SqlError {
            offset: e.offset.unwrap_or(0),
            message: e.message,
            suggestion: e.suggestion,
        }
    }
}

/// Parses an SQL file into specs (see the module docs). Never panics.
pub fn parse(text: &str) -> Result<SqlFile, SqlError> {
    let mut cursor = cursor::Cursor::new(text)?;
    statement::statements(&mut cursor)
}
