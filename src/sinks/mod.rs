//! Where rows, late events and errors go: the sink operators and the line outputs they write.
//!
//! A sink operator waits until the frontier passes a time, consolidates that time's updates
//! and formats them ([`format`]); it then hands whole lines to a [`LineSink`]. Line sinks are
//! opened per pipeline by an [`OutputFactory`] — a plain value passed to the run, never a
//! global — so tests capture in memory what the command line writes to files or stdout.
//!
//! Sinks that deliver elsewhere (sync to other stores, alerts, routes) live in their own
//! folders and are added to a run by [`external`].

pub mod alert;
pub mod capture;
pub mod cut;
pub mod delivery;
pub mod each_time;
pub mod external;
pub mod file;
pub mod format;
pub mod path;
pub mod resumed;
pub mod routes;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;

use crate::operators::fallible::{Lines, Rows};
use crate::store::stable_hash;
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

/// Updates held until the frontier passes their time, with a capability for that time.
pub type Pending<D> = (Capability<u64>, Vec<(D, i64)>);

/// Files a batch of updates under their times, each time with a capability for it.
pub fn stash_by_time<D>(
    pending: &mut BTreeMap<u64, Pending<D>>,
    cap: &InputCapability<u64>,
    data: &mut Vec<(D, u64, i64)>,
) {
    for (row, t, d) in data.drain(..) {
        pending
            .entry(t)
            .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()))
            .1
            .push((row, d));
    }
}

/// Takes the earliest stashed time if the frontier has passed it (so it is complete), with
/// what was stashed under it.
pub fn next_completed<V>(
    pending: &mut BTreeMap<u64, (Capability<u64>, V)>,
    frontier: &MutableAntichain<u64>,
) -> Option<(u64, (Capability<u64>, V))> {
    let entry = pending.first_entry()?;
    if frontier.less_equal(entry.key()) {
        return None;
    }
    Some((*entry.key(), entry.remove()))
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
    let identity = format.identity_len();
    let route = Exchange::new(move |(row, _, _): &(Row, u64, i64)| {
        stable_hash(&row.0[..identity.min(row.0.len())])
    });
    rows.inner
        .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            route,
            "SinkRows",
            move |_cap, _info| {
                let mut pending: BTreeMap<u64, Pending<Row>> = BTreeMap::new();
                let mut state: Vec<(Row, i64)> = Vec::new();
                let mut text = String::new();
                let mut final_written = false;
                move |(input, frontier), _output| {
                    input.for_each(|cap, data| stash_by_time(&mut pending, &cap, data));
                    while let Some((time, (_cap, mut updates))) =
                        next_completed(&mut pending, frontier)
                    {
                        if final_sink.is_some() {
                            state.extend(updates.iter().cloned());
                        }
                        let lines = format.format_time(time, &mut updates, &mut text);
                        written.fetch_add(lines as u64, Ordering::Relaxed);
                        sink.write_at(Some(time), &text);
                        text.clear();
                    }
                    if frontier.is_empty()
                        && !final_written
                        && let Some(final_sink) = &final_sink
                    {
                        final_written = true;
                        format::consolidate(&mut state);
                        for (row, diff) in &state {
                            for _ in 0..(*diff).max(0) {
                                row.write_json_object(format.names(), &mut text);
                                text.push('\n');
                            }
                        }
                        final_sink.write_at(None, &text);
                        text.clear();
                    }
                }
            },
        )
}

/// Writes side-output lines (late events, errors) per time, once the frontier has passed
/// it (so a checkpoint at a batch boundary knows exactly what was written), counting them.
pub fn sink_lines<'scope>(
    lines: Lines<'scope>,
    sink: Arc<dyn LineSink>,
    written: Arc<AtomicU64>,
) -> Stream<'scope, u64, Vec<()>> {
    lines.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
        Pipeline,
        "SinkLines",
        move |_cap, _info| {
            let mut pending: BTreeMap<u64, (Capability<u64>, String)> = BTreeMap::new();
            move |(input, frontier), _output| {
                input.for_each(|cap, data| {
                    let time = cap.least().copied().unwrap_or_default();
                    let text = &mut pending
                        .entry(time)
                        .or_insert_with(|| (cap.delayed(&time, 0), String::new()))
                        .1;
                    for line in data.drain(..) {
                        text.push_str(&line);
                        text.push('\n');
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let time = *entry.key();
                    let (_cap, text) = entry.remove();
                    sink.write_at(Some(time), &text);
                }
            }
        },
    )
}
