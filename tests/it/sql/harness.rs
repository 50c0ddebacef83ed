//! Running an SQL text over mutations in memory, and reading what it wrote as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use kvflow::change::Mutation;
use kvflow::dataflow_file::{LoadedFile, load_sql_str, load_str};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::capture::Capture;

/// What a run wrote: per pipeline, its rows (the changelog) and final state, each line
/// parsed, sorted by its text.
pub struct Written {
    capture: Capture,
}

impl Written {
    pub fn rows(&self, pipeline: &str) -> Vec<Json> {
        parsed(self.capture.sorted(pipeline, OutputKind::Rows))
    }

    pub fn final_state(&self, pipeline: &str) -> Vec<Json> {
        parsed(self.capture.sorted(pipeline, OutputKind::Final))
    }

    /// The lines as written (sorted), to compare two runs byte for byte.
    pub fn lines(&self, pipeline: &str) -> Vec<String> {
        let mut lines = self.capture.sorted(pipeline, OutputKind::Rows);
        lines.extend(self.capture.sorted(pipeline, OutputKind::Final));
        lines.extend(self.capture.sorted(pipeline, OutputKind::Late));
        lines
    }

    /// The late lines, parsed, sorted.
    pub fn late(&self, pipeline: &str) -> Vec<Json> {
        parsed(self.capture.sorted(pipeline, OutputKind::Late))
    }
}

fn parsed(lines: Vec<String>) -> Vec<Json> {
    sorted(
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("a JSON line")),
    )
}

pub fn sorted(rows: impl IntoIterator<Item = Json>) -> Vec<Json> {
    let mut rows: Vec<Json> = rows.into_iter().collect();
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// Runs `sql` over `input` with `workers`; each event time gets its own batch when
/// `per_event` (so the changelog shows every step), else batches of 1 s and 500 events.
pub fn run_sql(sql: &str, input: &[Mutation], workers: usize, per_event: bool) -> Written {
    let loaded = load_sql_str(sql, "test.sql", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    run_loaded(loaded, input, workers, per_event, false)
}

/// [`run_sql`] for an input with late rows (they are on each pipeline's late output).
pub fn run_sql_late(sql: &str, input: &[Mutation], workers: usize, per_event: bool) -> Written {
    let loaded = load_sql_str(sql, "test.sql", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    run_loaded(loaded, input, workers, per_event, true)
}

/// [`run_sql`] for a TOML file's text.
pub fn run_toml(toml: &str, input: &[Mutation], workers: usize, per_event: bool) -> Written {
    let loaded = load_str(toml, "test.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    run_loaded(loaded, input, workers, per_event, false)
}

fn run_loaded(
    loaded: LoadedFile,
    input: &[Mutation],
    workers: usize,
    per_event: bool,
    late: bool,
) -> Written {
    let capture = Capture::new();
    let options = match per_event {
        true => RunOptions::default().batch_ms(1).batch_events(0),
        false => RunOptions::default().batch_ms(1000).batch_events(500),
    };
    let summary = run(
        Arc::new(loaded.plan),
        InputSource::Memory(Arc::new(input.to_vec())),
        options.workers(workers),
        Arc::new(capture.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        summary
            .pipelines
            .iter()
            .all(|p| p.errors == 0 && (late || p.late == 0)),
        "errors or late rows"
    );
    Written { capture }
}

/// A changelog line: `{"op": op, ..row}`.
pub fn op_line(op: &str, row: &Json) -> Json {
    let mut object = row.as_object().cloned().unwrap_or_default();
    object.insert("op".to_string(), Json::from(op));
    Json::Object(object)
}

/// The changelog from one state of a result to the next: deletes of rows that went, upserts
/// of rows that came (each row a multiset member).
pub fn diff(before: &[Json], after: &[Json], out: &mut Vec<Json>) {
    let count = |rows: &[Json]| {
        let mut counts: BTreeMap<String, (Json, i64)> = BTreeMap::new();
        for row in rows {
            counts.entry(row.to_string()).or_insert((row.clone(), 0)).1 += 1;
        }
        counts
    };
    let (old, new) = (count(before), count(after));
    for (text, (row, n)) in &old {
        let m = new.get(text).map_or(0, |e| e.1);
        for _ in m..*n {
            out.push(op_line("delete", row));
        }
    }
    for (text, (row, n)) in &new {
        let m = old.get(text).map_or(0, |e| e.1);
        for _ in m..*n {
            out.push(op_line("upsert", row));
        }
    }
}
