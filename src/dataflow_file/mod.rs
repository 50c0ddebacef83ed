//! Dataflow files (`dataflows/*.toml`): TOML into a validated [`Plan`].
//!
//! A file names its sources, then its pipelines in order; a pipeline reads a source or an
//! earlier pipeline and applies its steps one after the other:
//!
//! ```toml
//! # optional: the default input, used when the command line gives no --input/--generate
//! [input]
//! file = "window_counts.input.jsonl"  # relative to this file
//! # or: generate = "users-orders", events = 2000, seed = 7, disorder_ms = 0,
//! #     keys = 1000, skew = 1.1, start_ts = 1700000000000, rate_per_sec = 10000
//!
//! # optional: keys written once, as rows of an append-only stream: the store keeps none
//! # of them (see `store::shard::AppendOnlyKeys`)
//! [store]
//! append_only_keys = "^click_"
//!
//! [sources.events]                  # a named source; several pipelines can share it
//! view = "events"                   # "events" (every change) or "table" (live state); required
//! kinds = ["insert", "update"]      # optional, events view only
//! key_regex = "^order_"             # optional
//! max_out_of_orderness = 200        # ms, default 0
//!
//! [sources.users]
//! view = "table"
//! key_regex = "^user_"
//!
//! [[pipelines]]
//! name = "tumbling"
//! from = "events"                   # a source or an EARLIER pipeline
//! final_state = false               # optional: also write the consolidated final state
//! internal = false                  # optional: only feeds later pipelines; rows not written
//!
//! [[pipelines.steps]]
//! filter = "value.amount > 10"
//!
//! [[pipelines.steps]]               # the output row is exactly these fields, in this order
//! map = { prefix = "split_part(key, '_', 1)", ts = "ts", v = "CAST(value.amount AS INT)" }
//!
//! [[pipelines.steps]]               # tumbling: size; sliding: size, slide; session: gap
//! window = { kind = "tumbling", size = 1000, emit = "final", allowed_lateness = 0 }
//! group_by = ["prefix"]             # paths (named by their last segment) or { name = "expr" }
//! aggregates = { count = "count(*)", sum = "sum(v)" }
//!
//! [[pipelines]]
//! name = "enriched"
//! from = "events"
//! steps = [
//!   { flat_map = { item = "value.items" } },  # one row per element, appended as `item`
//!   { join = "users", left_on = ["value.user_id"], right_on = ["key"], kind = "left" },
//! ]
//! ```
//!
//! A step has exactly one of `filter`, `map`, `flat_map`, `join` (with `left_on`, `right_on`
//! and optionally `kind` = "inner" | "left") or `aggregates` (optionally with `group_by` and
//! `window`). Aggregates are `name = "func(arg)"` with func one of count (`count(*)` counts
//! rows), sum, min, max, avg, count_distinct (or `count(DISTINCT x)`), first, last and collect
//! (`collect(x)` or `collect(x, limit)`, limit default 100). Output fields of an aggregate are
//! `window_start, window_end` (when windowed), the group fields, then the aggregates; `map`,
//! `group_by` and `aggregates` keep the file's order. Steps may equally be written as
//! `[[pipelines.steps]]` tables or as an inline `steps = [...]` array.
//!
//! Every problem, from a TOML syntax error to a type error inside an expression, is a
//! [`DataflowFileError`] at `file:line:column`, with a "did you mean" where a near name exists.
//!
//! A pipeline with `internal = true` feeds later pipelines and sinks but writes no rows of
//! its own (its late rows and errors are still written).
//!
//! Files ending in `.sql` are SQL dataflow files (`crate::sql`, `docs/sql.md`): they build
//! the same specs and are lowered here the same way.
//!
//! Sync sinks, alerts and routes (`[[sync]]`, `[[alerts]]`, `[[routes]]`) are described in
//! `outputs.rs`; an SQL file's `CREATE SINK` statements are written as those sections and
//! read by the same code (`sql_sinks.rs`).
//!
//! Layout: `raw.rs` reads the spanned TOML document into raw structs (keys and TOML types),
//! `convert.rs` and `agg.rs` turn them into the lowering API's specs, `lower` resolves and
//! type-checks them, and `error.rs`/`literal.rs` map byte offsets to lines and columns.

mod agg;
mod alerts;
mod convert;
mod error;
mod literal;
mod outputs;
mod raw;
mod routes;
mod settings;
mod spans;
mod sql_sinks;
mod sync;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_outputs;
#[cfg(test)]
mod tests_sql_sinks;

use std::path::{Path, PathBuf};

use crate::plan::Plan;
use crate::plan::lower::lower;
use crate::workload::{GenConfig, Workload};

use error::Fail;
pub use error::{DataflowFileError, offset_to_line_col};
use literal::Escaped;

/// The input a file asks for when the command line names none.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultInput {
    /// A JSONL file, resolved relative to the dataflow file's directory.
    File(PathBuf),
    /// Generated mutations.
    Generate {
        workload: Workload,
        config: GenConfig,
    },
}

/// A loaded dataflow file: its plan and its default input, if it names one.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    pub plan: Plan,
    pub input: Option<DefaultInput>,
}

/// Reads and loads the dataflow file at `path` (see the module docs).
pub fn load_file(path: &Path) -> Result<LoadedFile, DataflowFileError> {
    let file_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DataflowFileError {
        file: file_name.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read the file: {e}"),
        suggestion: None,
        source_line: String::new(),
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    match path.extension().is_some_and(|e| e == "sql") {
        true => load_sql_str(&text, &file_name, base_dir),
        false => load_str(&text, &file_name, base_dir),
    }
}

/// Loads the text of an SQL dataflow file (`crate::sql`), like [`load_str`].
pub fn load_sql_str(
    text: &str,
    file_name: &str,
    base_dir: &Path,
) -> Result<LoadedFile, DataflowFileError> {
    load_sql(text, base_dir).map_err(|fail| fail.into_error(text, file_name, &[]))
}

fn load_sql(text: &str, base_dir: &Path) -> Result<LoadedFile, Fail> {
    let file = crate::sql::parse(text).map_err(|e| Fail {
        offset: e.offset,
        message: e.message,
        suggestion: e.suggestion,
    })?;
    let input = match settings::raw_input(&file.settings)? {
        Some(raw) => Some(convert::input(&raw, base_dir)?),
        None => None,
    };
    let store = settings::raw_store(&file.settings)?;
    let mut plan = lower(&file.sources, &file.pipelines).map_err(|e| Fail {
        offset: file.file_offset(e.offset.unwrap_or(0)),
        message: e.message,
        suggestion: e.suggestion,
    })?;
    plan.append_only_keys = convert::append_only_keys(store.as_ref())?;
    plan.sinks = sql_sinks::read(&file, &plan, base_dir)?;
    Ok(LoadedFile { plan, input })
}

/// Loads dataflow file text; `file_name` is used in errors, `base_dir` resolves the input file.
pub fn load_str(
    text: &str,
    file_name: &str,
    base_dir: &Path,
) -> Result<LoadedFile, DataflowFileError> {
    let mut escaped = Vec::new();
    load(text, base_dir, &mut escaped).map_err(|fail| fail.into_error(text, file_name, &escaped))
}

fn load(text: &str, base_dir: &Path, escaped: &mut Vec<Escaped>) -> Result<LoadedFile, Fail> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        Fail::at(offset, format!("invalid TOML: {}", e.message()))
    })?;
    let mut reader = raw::Reader::new(text);
    let raw = reader.file(doc.get_ref());
    *escaped = reader.escaped;
    let specs = convert::convert(&raw?, base_dir)?;
    let mut plan = lower(&specs.sources, &specs.pipelines).map_err(|e| Fail {
        offset: e.offset.unwrap_or(0),
        message: e.message,
        suggestion: e.suggestion,
    })?;
    plan.sinks = outputs::read(text, &plan, base_dir)?;
    plan.append_only_keys = specs.append_only_keys;
    Ok(LoadedFile {
        plan,
        input: specs.input,
    })
}
