//! Where rows, late events and errors go: the sink operators and the line outputs they write.
//!
//! A sink operator waits until the frontier passes a time ([`AtCompletedTimes`]),
//! consolidates that time's updates and formats them ([`format`](mod@format)); it then
//! hands whole lines to a [`LineSink`]. Line sinks are opened per pipeline by an
//! [`OutputFactory`] — a plain value passed to the run, never a global — so tests capture in
//! memory what the command line writes to files or stdout.
//!
//! Sinks that deliver elsewhere (sync to other stores, alerts, routes) live in their own
//! folders and are added to a run by [`external`].

pub mod alert;
pub mod capture;
pub mod cut;
pub mod delivery;
pub mod external;
pub mod file;
pub mod format;
pub mod path;
pub mod resumed;
pub mod routes;
mod row_sort;
pub mod sync;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

use crate::operators::by_time::AtCompletedTimes;
use crate::operators::fallible::{Lines, Rows};
use crate::value::Row;

pub use format::RowFormat;

/// A destination for complete JSON lines (each ending in `\n`). Shared by a process's workers.
pub trait LineSink: Send + Sync {
    fn write(&self, lines: &str);
    /// Writes the output of timely time `time` (`None`: the final state). A sink that
    /// resumes a durable run drops what it delivered before (see `runtime::durable`).
    fn write_at(&self, _time: Option<u64>, lines: &str) {
        self.write(lines);
    }
    fn flush(&self) {}
    /// Output of `time` that a resumed durable run had delivered before its restart and so
    /// does not write again; a sink that keeps derived state in memory rebuilds it from this.
    fn write_delivered(&self, _time: Option<u64>, _lines: &str) {}
}

/// Which of a pipeline's outputs a sink is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutputKind {
    Rows,
    Late,
    Errors,
    /// The consolidated final state, written once at the end of a bounded run.
    Final,
}

impl OutputKind {
    /// The file name suffix: `<pipeline><suffix>.jsonl`.
    pub fn suffix(self) -> &'static str {
        match self {
            OutputKind::Rows => "",
            OutputKind::Late => ".late",
            OutputKind::Errors => ".errors",
            OutputKind::Final => ".final",
        }
    }
}

/// Opens line sinks for a run's pipelines.
pub trait OutputFactory: Send + Sync {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink>;
    /// Flushes everything; called once after the workers finish.
    fn finish(&self) {}
    /// The first output that could not be written, flushed or synced, naming its file: the
    /// feeder stops the run at its next batch, and the run fails with it.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Cuts outputs back to the lengths a checkpoint recorded (by path), before any write.
    fn resume(&self, _lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        Ok(())
    }
    /// Flushes and syncs every output, returning each file's length (for a checkpoint).
    fn checkpoint(&self) -> Result<BTreeMap<String, u64>, String> {
        Ok(BTreeMap::new())
    }
}

/// Writes a pipeline's rows: per time, once the frontier has passed it. With `final_sink`,
/// also writes the consolidated state when the input ends. Counts lines in `written`.
pub fn sink_rows<'scope>(
    rows: Rows<'scope>,
    format: RowFormat,
    sink: Arc<dyn LineSink>,
    final_sink: Option<Arc<dyn LineSink>>,
    written: Arc<AtomicU64>,
) -> Stream<'scope, u64, Vec<()>> {
    // NB: the final state sums each row's multiplicity, so it needs every copy of a row.
    let local = format.writes_where_made() && final_sink.is_none();
    let router = format.clone();
    let route = Exchange::new(move |(row, _, _): &(Row, u64, i64)| router.route_hash(row));
    let final_state = final_sink.map(|sink| Rc::new(RefCell::new(FinalState::new(sink))));
    let at_end = final_state.clone();
    let names = format.names().to_vec();
    let mut text = String::new();
    let stamp = |(row, time, diff), _| (time, (row, diff));
    let on_time = move |time, updates: &mut Vec<(Row, i64)>| {
        if let Some(state) = &final_state {
            state.borrow_mut().add(updates);
        }
        let lines = format.format_time(time, updates, &mut text);
        written.fetch_add(lines as u64, Ordering::Relaxed);
        sink.write_at(Some(time), &text);
        text.clear();
    };
    let on_end = move || {
        if let Some(state) = &at_end {
            state.borrow_mut().write(&names);
        }
    };
    match local {
        true => rows
            .inner
            .at_completed_times(Pipeline, "SinkRows", stamp, on_time, on_end),
        false => rows
            .inner
            .at_completed_times(route, "SinkRows", stamp, on_time, on_end),
    }
}

/// A pipeline's consolidated state, written once when its input ends.
struct FinalState {
    updates: Vec<(Row, i64)>,
    sink: Arc<dyn LineSink>,
}

impl FinalState {
    fn new(sink: Arc<dyn LineSink>) -> FinalState {
        FinalState {
            updates: Vec::new(),
            sink,
        }
    }

    fn add(&mut self, updates: &[(Row, i64)]) {
        self.updates.extend(updates.iter().cloned());
    }

    /// Writes each row of the state as often as its multiplicity.
    fn write(&mut self, names: &[String]) {
        format::consolidate(&mut self.updates);
        let mut text = String::new();
        for (row, diff) in &self.updates {
            for _ in 0..(*diff).max(0) {
                row.write_json_object(names, &mut text);
                text.push('\n');
            }
        }
        self.sink.write_at(None, &text);
    }
}

/// Writes side-output lines (late events, errors) per time, once the frontier has passed
/// it (so a checkpoint at a batch boundary knows exactly what was written), counting them.
pub fn sink_lines<'scope>(
    lines: Lines<'scope>,
    sink: Arc<dyn LineSink>,
    written: Arc<AtomicU64>,
) -> Stream<'scope, u64, Vec<()>> {
    let mut text = String::new();
    lines.at_completed_times(
        Pipeline,
        "SinkLines",
        |line, batch_time| (batch_time, line),
        move |time, lines: &mut Vec<String>| {
            for line in lines.iter() {
                text.push_str(line);
                text.push('\n');
            }
            written.fetch_add(lines.len() as u64, Ordering::Relaxed);
            sink.write_at(Some(time), &text);
            text.clear();
        },
        || {},
    )
}
