//! Running a plan: workers, the input feed, sinks, probes and the run's summary.
//!
//! [`run`] starts timely workers (threads, or processes of a cluster), builds the same
//! dataflow on each — store shard, rendered pipelines, sinks — and feeds it from the input
//! (see [`feed`] for how input is split between workers and cut into batches). It returns a
//! [`RunSummary`] once every pipeline's frontier is empty.

pub mod cluster;
pub mod durable;
pub mod feed;
pub mod live_queue;
pub mod metrics;
pub mod observe;
pub mod operator_stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::assemble::{Parts, WorkerDataflow, build_dataflow};
use crate::change::Mutation;
use crate::change::time::{Clock, SystemClock};
use crate::plan::Plan;
use crate::sinks::external::{ExternalSinks, WithExternal};
use crate::sinks::{LineSink, OutputFactory};

pub use cluster::ClusterConfig;
pub use durable::{DurableConfig, DurableRun};
pub use feed::{BadInputPolicy, InputSource};
pub use metrics::{Metrics, PipelineStats, RunSummary};
pub use observe::RunObserver;

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{file}:{line}: {message}")]
    BadInput {
        file: String,
        line: u64,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cluster: {0}")]
    Cluster(String),
    #[error("worker failed: {0}")]
    Worker(String),
    #[error("data directory: {0}")]
    Durable(String),
    /// An output file could not be written, flushed or synced (the message names it).
    #[error("{0}")]
    Output(String),
}

/// The events a batch of backlogged input holds at least (`--batch-events`).
///
/// Decision: 5 000, with [`feed::BATCHES_IN_FLIGHT`] = 8 batches in flight. A round of
/// progress tracking is paid per 5 000 events, and the batches' working set stays small
/// enough to stay in cache; eight in flight keep two workers from waiting on each other
/// between rounds. `window_counts.toml` over the 2M-event keyed stream, 3 alternating runs:
/// 20 000 with 2 in flight took 4.30–4.51 s (`-w 1`) and 2.68–2.76 s (`-w 2`), 5 000 with 8
/// in flight 4.05–4.24 s and 2.43–2.52 s. The volume is the same for every worker count, so
/// outputs stay byte-identical across worker counts.
pub const DEFAULT_BATCH_EVENTS: u64 = 5_000;

/// How a run is executed.
#[derive(Clone)]
pub struct RunOptions {
    /// Worker threads per process.
    pub workers: usize,
    pub cluster: Option<ClusterConfig>,
    /// A new batch (timely time) starts once the watermark moved this far.
    pub batch_ms: u64,
    /// ... and, while the input has a backlog (a file, the generator, a replay), once the
    /// batch holds this many events (see `runtime::feed`).
    pub batch_events: u64,
    pub on_bad_input: BadInputPolicy,
    pub clock: Arc<dyn Clock>,
    /// Where skipped bad input lines go (`--on-bad-input skip`).
    pub bad_input: Option<Arc<dyn LineSink>>,
    /// Write rows in the raw differential form (`diff`, `time`).
    pub raw_output: bool,
    /// Told when batches are sent and when the outputs close them (for benchmarks).
    pub observer: Option<Arc<dyn RunObserver>>,
    /// Log to a data directory and resume from its checkpoint (`--data-dir`).
    pub durable: Option<Arc<DurableRun>>,
    /// The delivery threads and counters of sync sinks, alerts and routes (made by the run
    /// when not given; give one to read its counters afterwards).
    pub external: Option<Arc<ExternalSinks>>,
    /// Figures per operator from timely's and differential's logging (`--metrics`).
    pub operator_stats: Option<Arc<operator_stats::OperatorStats>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            cluster: None,
            batch_ms: 100,
            batch_events: DEFAULT_BATCH_EVENTS,
            on_bad_input: BadInputPolicy::Fail,
            clock: Arc::new(SystemClock),
            bad_input: None,
            raw_output: false,
            observer: None,
            durable: None,
            external: None,
            operator_stats: None,
        }
    }
}

impl RunOptions {
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    pub fn batch_ms(mut self, batch_ms: u64) -> Self {
        self.batch_ms = batch_ms.max(1);
        self
    }

    pub fn batch_events(mut self, events: u64) -> Self {
        self.batch_events = events;
        self
    }

    fn timely_config(&self) -> Result<timely::Config, RunError> {
        let communication = match &self.cluster {
            Some(cluster) => cluster.communication(self.workers)?,
            None if self.workers <= 1 => timely::CommunicationConfig::Thread,
            None => timely::CommunicationConfig::Process(self.workers),
        };
        Ok(timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        })
    }
}

/// Runs every pipeline of `plan` over `input`, writing to `outputs`.
pub fn run(
    plan: Arc<Plan>,
    input: InputSource,
    options: RunOptions,
    outputs: Arc<dyn OutputFactory>,
) -> Result<RunSummary, RunError> {
    let names: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
    let metrics = Arc::new(Metrics::new(&names));
    run_observed(plan, input, options, outputs, metrics)
}

/// As [`run`], counting into `metrics` (made with `Metrics::new(pipeline names)`), which the
/// caller can watch while the run goes on (a progress bar).
pub fn run_observed(
    plan: Arc<Plan>,
    input: InputSource,
    options: RunOptions,
    outputs: Arc<dyn OutputFactory>,
    metrics: Arc<Metrics>,
) -> Result<RunSummary, RunError> {
    let config = options.timely_config()?;
    let external = options.external.clone().unwrap_or_default();
    let outputs: Arc<dyn OutputFactory> = Arc::new(WithExternal {
        inner: outputs,
        external: external.clone(),
    });
    let durable = options.durable.clone();
    let started = Instant::now();
    let worker_metrics = metrics.clone();
    let worker_outputs = outputs.clone();
    let input = Arc::new(feed::ProcessInput::new(input));
    let guards = timely::execute(config, move |worker| {
        run_worker(
            worker,
            &plan,
            &input,
            &options,
            (&*worker_outputs, &external),
            &worker_metrics,
        )
    })
    .map_err(RunError::Cluster)?;
    let mut first_error = None;
    for result in guards.join() {
        let outcome = result.map_err(RunError::Worker).and_then(|r| r);
        if let (Err(e), None) = (outcome, &first_error) {
            first_error = Some(e);
        }
    }
    outputs.finish();
    if let (None, Some(failure)) = (&first_error, outputs.failure()) {
        first_error = Some(RunError::Output(failure));
    }
    if let (None, Some(durable)) = (&first_error, &durable) {
        first_error = durable.complete(&*outputs).err();
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(metrics.summary(started.elapsed())),
    }
}

fn run_worker(
    worker: &mut timely::worker::Worker,
    plan: &Plan,
    input: &feed::ProcessInput,
    options: &RunOptions,
    (outputs, external): (&dyn OutputFactory, &ExternalSinks),
    metrics: &Arc<Metrics>,
) -> Result<(), RunError> {
    let durable = options.durable.as_ref();
    let local = worker.index() % options.workers.max(1);
    let parts = Parts {
        outputs,
        metrics,
        external,
        raw_output: options.raw_output,
        delivered: durable.map(|d| d.delivered()),
        shard_log: durable.and_then(|d| d.shard_log(local)),
        probe_pipelines: options
            .observer
            .as_ref()
            .is_some_and(|o| o.wants_pipelines()),
    };
    if let Some(stats) = &options.operator_stats {
        stats.register(worker);
    }
    let WorkerDataflow {
        input: mut handle,
        probe,
        pipeline_probes,
        node_spans,
    } = {
        let built = build_dataflow(worker, plan, parts);
        // NB: also after a failed build, so no later dataflow on this thread reports.
        operator_stats::OperatorStats::built();
        built.map_err(RunError::Worker)?
    };
    if let Some(stats) = &options.operator_stats {
        stats.attribute(worker.index(), node_spans);
    }
    let mut watch = observe::FrontierWatch::for_worker(
        options.observer.as_ref(),
        worker.index(),
        pipeline_probes,
    );
    let fed = feed::feed_worker(
        worker,
        &mut handle,
        &probe,
        (plan, input),
        options,
        (metrics, outputs),
        watch.as_mut(),
    );
    handle.close();
    // NB: parked when there is nothing to do, as the feed waits (see `Feeder::wait_step`).
    while !probe.done() {
        worker.step_or_park(Some(std::time::Duration::from_micros(50)));
        if let Some(watch) = watch.as_mut() {
            watch.check(&probe);
        }
    }
    fed
}

/// Reads a whole input into memory (for benchmarks and tests that reuse one input).
pub fn collect_input(path: &PathBuf) -> Result<Vec<Mutation>, RunError> {
    let file = std::fs::File::open(path).map_err(|source| RunError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let reader = crate::source::jsonl::JsonlReader::new(std::io::BufReader::new(file));
    let mut out = Vec::new();
    for item in reader {
        let (_, m) = item.map_err(|e| RunError::BadInput {
            file: path.display().to_string(),
            line: e.line,
            message: e.message,
        })?;
        out.push(m);
    }
    Ok(out)
}
