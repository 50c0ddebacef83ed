//! Counters a run keeps, shared by a process's workers: the dataflow's sinks count rows, late
//! rows and errors per pipeline, the store the deletes of missing keys, the feed the events
//! read. The run's summary (`runtime::metrics`) and the server's `INFO` read them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for one pipeline.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    pub rows: Arc<AtomicU64>,
    pub late: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
}

/// A process's counters for one run.
#[derive(Debug)]
pub struct Metrics {
    pub events_in: AtomicU64,
    pub bad_lines: AtomicU64,
    pub missing_deletes: AtomicU64,
    /// The pipelines' names, in plan order (as `pipelines`).
    pub names: Vec<String>,
    pub pipelines: Vec<PipelineCounters>,
}

impl Metrics {
    pub fn new(names: &[String]) -> Metrics {
        Metrics {
            events_in: AtomicU64::new(0),
            bad_lines: AtomicU64::new(0),
            missing_deletes: AtomicU64::new(0),
            names: names.to_vec(),
            pipelines: names.iter().map(|_| PipelineCounters::default()).collect(),
        }
    }

    pub fn add_missing_deletes(&self, n: u64) {
        self.missing_deletes.fetch_add(n, Ordering::Relaxed);
    }
}
