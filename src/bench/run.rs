//! One measured run: the plan over a pre-generated in-memory input, outputs discarded (but
//! formatted and counted, as a real sink would), timed from the first event to the last
//! output frontier.
//!
//! Latency: the runtime reports when each batch's first event is sent and when the outputs'
//! frontier passes the batch's time. Every event of a batch is given the latency of the
//! batch's first event — an upper bound, off by at most the time it takes to send one batch.
//! Recording a wall time per event would cost more than the pass-through queries spend on it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::BenchError;
use super::stats::{BatchLatency, LatencySummary, batch_latencies};
use crate::change::Mutation;
use crate::plan::Plan;
use crate::runtime::observe::BothObservers;
use crate::runtime::operator_stats::OperatorStats;
use crate::runtime::{InputSource, Metrics, RunObserver, RunOptions, run_observed};
use crate::sinks::{LineSink, OutputFactory, OutputKind};

/// What one run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub workers: usize,
    pub events: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    pub events_per_s_per_worker: f64,
    pub latency: LatencySummary,
    /// The process's peak resident set during the run (input included), when known.
    pub peak_rss_bytes: Option<u64>,
    /// The resident set just before the run: mostly the pre-generated input.
    pub input_rss_bytes: Option<u64>,
    /// Lines written by every pipeline (rows and changelog updates).
    pub rows_out: u64,
    pub late: u64,
    pub errors: u64,
    /// Rows out per pipeline that writes rows (not an internal one), in file order.
    pub pipelines: Vec<(String, u64)>,
    /// Each batch's latency and size, for the distribution plot.
    pub batches: Vec<BatchLatency>,
}

/// How a measured run cuts its input into batches (see `runtime::feed`).
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub ms: u64,
    pub events: u64,
}

/// What else watches a measured run: a metrics endpoint's operator figures and observer (to
/// measure what serving metrics costs).
pub struct Watchers {
    pub operator_stats: Arc<OperatorStats>,
    pub observer: Arc<dyn RunObserver>,
}

/// Runs `plan` over `input` on `workers` threads and measures it, counting into `metrics`.
pub fn measure(
    plan: Arc<Plan>,
    input: Arc<Vec<Mutation>>,
    (workers, batching): (usize, Batching),
    metrics: Arc<Metrics>,
    watchers: Option<Watchers>,
) -> Result<Measurement, BenchError> {
    let events = input.len() as u64;
    let recorder = Arc::new(Recorder::default());
    let observer: Arc<dyn RunObserver> = match &watchers {
        Some(w) => Arc::new(BothObservers(recorder.clone(), w.observer.clone())),
        None => recorder.clone(),
    };
    let options = RunOptions {
        observer: Some(observer),
        operator_stats: watchers.map(|w| w.operator_stats),
        ..RunOptions::default()
            .workers(workers)
            .batch_ms(batching.ms)
            .batch_events(batching.events)
    };
    let internal: Vec<String> = plan
        .pipelines
        .iter()
        .filter(|p| p.internal)
        .map(|p| p.name.clone())
        .collect();
    let input_rss_bytes = reset_peak_rss();
    let started = Instant::now();
    // NB: the input stays this function's until the run is measured: the run would otherwise
    // free the pre-generated mutations as its workers exit, inside the measured time (about
    // half of it for a pipeline that keeps nothing), which a run that reads its input as it
    // goes spreads over the events.
    let keep_input = input.clone();
    let summary = run_observed(
        plan,
        InputSource::Memory(input),
        options,
        Arc::new(Discard),
        metrics,
    )?;
    let peak_rss_bytes = peak_rss_bytes();
    drop(keep_input);
    let batches = recorder.latencies(started, events);
    let elapsed_s = summary.elapsed.as_secs_f64().max(1e-9);
    let events_per_s = events as f64 / elapsed_s;
    Ok(Measurement {
        workers,
        events,
        elapsed_s,
        events_per_s,
        events_per_s_per_worker: events_per_s / workers.max(1) as f64,
        latency: LatencySummary::of(&batches),
        peak_rss_bytes,
        input_rss_bytes,
        rows_out: summary.pipelines.iter().map(|p| p.rows).sum(),
        late: summary.pipelines.iter().map(|p| p.late).sum(),
        errors: summary.pipelines.iter().map(|p| p.errors).sum(),
        pipelines: summary
            .pipelines
            .iter()
            .filter(|p| !internal.contains(&p.name))
            .map(|p| (p.name.clone(), p.rows))
            .collect(),
        batches,
    })
}

/// Resets the kernel's peak-RSS mark to the current RSS (Linux `clear_refs` 5) and returns the
/// current RSS in bytes. `None` where `/proc` is not available.
pub fn reset_peak_rss() -> Option<u64> {
    // Without the reset the peak would still be right for the run if the input generation
    // peaked lower; the current RSS is reported apart either way.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// The process's peak resident set size in bytes (`VmHWM`); `None` where `/proc` is not
/// available.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// A `kB` field of `/proc/self/status`.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Records the runtime's batch and frontier reports.
#[derive(Default)]
struct Recorder {
    opened: Mutex<Vec<(u64, u64, Instant)>>,
    frontiers: Mutex<Vec<(Option<u64>, Instant)>>,
}

impl RunObserver for Recorder {
    fn batch_opened(&self, stamp: u64, first_seq: u64, at: Instant) {
        if let Ok(mut opened) = self.opened.lock() {
            opened.push((stamp, first_seq, at));
        }
    }

    fn frontier_advanced(&self, frontier: Option<u64>, at: Instant) {
        if let Ok(mut frontiers) = self.frontiers.lock() {
            frontiers.push((frontier, at));
        }
    }
}

impl Recorder {
    fn latencies(&self, started: Instant, events: u64) -> Vec<BatchLatency> {
        let opened = self.opened.lock().map(|v| v.clone()).unwrap_or_default();
        let frontiers = self.frontiers.lock().map(|v| v.clone()).unwrap_or_default();
        let ms = |at: Instant| at.duration_since(started).as_secs_f64() * 1000.0;
        let opened: Vec<_> = opened
            .into_iter()
            .map(|(s, q, at)| (s, q, ms(at)))
            .collect();
        let frontiers: Vec<_> = frontiers.into_iter().map(|(f, at)| (f, ms(at))).collect();
        batch_latencies(&opened, &frontiers, events)
    }
}

/// Outputs that keep nothing (the sinks still format and count every line).
pub struct Discard;

impl LineSink for Discard {
    fn write(&self, _lines: &str) {}
}

impl OutputFactory for Discard {
    fn open(&self, _pipeline: &str, _kind: OutputKind) -> Arc<dyn LineSink> {
        Arc::new(Discard)
    }
}
