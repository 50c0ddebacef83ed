//! Counters a run keeps, shared by a process's workers: the dataflow's sinks count rows, late
//! rows and errors per pipeline, the store the deletes of missing keys, the feed the events
//! read. The run's summary (`runtime::metrics`) and the server's `INFO` read them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::operator::ShardFigures;

/// Counters for one pipeline.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    pub rows: Arc<AtomicU64>,
    pub late: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    /// Each worker's count of the changes the pipeline's sources admitted.
    rows_in: Mutex<Vec<Arc<AtomicU64>>>,
}

impl PipelineCounters {
    /// A new counter of admitted changes for one worker (each worker keeps its own, so
    /// counting needs no shared cache line).
    pub fn rows_in_counter(&self) -> Arc<AtomicU64> {
        let counter = Arc::new(AtomicU64::new(0));
        let mut all = self.rows_in.lock().unwrap_or_else(|e| e.into_inner());
        all.push(counter.clone());
        counter
    }

    /// The changes the pipeline's sources admitted, over every worker of this process.
    pub fn rows_in(&self) -> u64 {
        let all = self.rows_in.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// A process's counters for one run.
#[derive(Debug)]
pub struct Metrics {
    pub events_in: AtomicU64,
    /// Bytes of the input file read so far (a file input only).
    pub bytes_in: AtomicU64,
    /// Batches the input was cut into so far.
    pub batches: AtomicU64,
    /// The stamp of the batch the input is in: the watermark the input has sent (ms).
    pub watermark_ms: AtomicU64,
    /// The largest event time seen before that batch opened (ms).
    pub max_event_ms: AtomicU64,
    /// `events_in` when that batch opened.
    pub batch_start: AtomicU64,
    pub bad_lines: AtomicU64,
    pub missing_deletes: AtomicU64,
    /// The pipelines' names, in plan order (as `pipelines`).
    pub names: Vec<String>,
    pub pipelines: Vec<PipelineCounters>,
    /// What each store shard holds, by shard (the worker's index).
    shards: Mutex<BTreeMap<usize, Arc<ShardFigures>>>,
    /// Whether shards count their bytes (see [`Self::want_store_bytes`]).
    store_bytes_wanted: AtomicBool,
}

impl Metrics {
    pub fn new(names: &[String]) -> Metrics {
        Metrics {
            events_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            watermark_ms: AtomicU64::new(0),
            max_event_ms: AtomicU64::new(0),
            batch_start: AtomicU64::new(0),
            bad_lines: AtomicU64::new(0),
            missing_deletes: AtomicU64::new(0),
            names: names.to_vec(),
            pipelines: names.iter().map(|_| PipelineCounters::default()).collect(),
            shards: Mutex::default(),
            store_bytes_wanted: AtomicBool::new(false),
        }
    }

    /// Where shard `shard` keeps the keys and bytes it holds, made anew for a store being
    /// built (so it reads whether metrics want its bytes now).
    pub fn shard_figures(&self, shard: usize) -> Arc<ShardFigures> {
        let figures = Arc::new(ShardFigures {
            counts_bytes: self.store_bytes_wanted.load(Ordering::Relaxed),
            ..ShardFigures::default()
        });
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards.insert(shard, figures.clone());
        figures
    }

    /// Shards made from now on count the bytes they hold (for a run that serves metrics).
    pub fn want_store_bytes(&self) {
        self.store_bytes_wanted.store(true, Ordering::Relaxed);
    }

    /// Each shard of this process with the keys and the bytes it holds, by shard.
    pub fn shards(&self) -> Vec<(usize, u64, u64)> {
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
        shards
            .iter()
            .map(|(shard, f)| (*shard, read(&f.keys), read(&f.bytes)))
            .collect()
    }

    /// The input opened the batch stamped `stamp`, having seen event times up to `max_seen`.
    pub fn note_batch(&self, stamp: u64, max_seen: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let read = self.events_in.load(Ordering::Relaxed);
        self.batch_start.store(read, Ordering::Relaxed);
        self.watermark_ms.fetch_max(stamp, Ordering::Relaxed);
        self.max_event_ms.fetch_max(max_seen, Ordering::Relaxed);
    }

    pub fn add_missing_deletes(&self, n: u64) {
        self.missing_deletes.fetch_add(n, Ordering::Relaxed);
    }
}
