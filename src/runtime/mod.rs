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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::ProbeHandle;
use timely::dataflow::operators::Input;
use timely::dataflow::operators::Probe;

use crate::change::Mutation;
use crate::change::time::{Clock, SystemClock};
use crate::plan::Plan;
use crate::render::render_plan;
use crate::sinks::external::{ExternalSinks, SinkContext, WithExternal};
use crate::sinks::{LineSink, OutputFactory, OutputKind, RowFormat, sink_lines, sink_rows};
use crate::store::Ingest;
use crate::store::operator::shard_operator;

pub use cluster::ClusterConfig;
pub use durable::{DurableConfig, DurableRun, Resumed};
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

/// How a run is executed.
#[derive(Clone)]
pub struct RunOptions {
    /// Worker threads per process.
    pub workers: usize,
    pub cluster: Option<ClusterConfig>,
    /// A new batch (timely time) starts once the watermark moved this far.
    pub batch_ms: u64,
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            cluster: None,
            batch_ms: 100,
            on_bad_input: BadInputPolicy::Fail,
            clock: Arc::new(SystemClock),
            bad_input: None,
            raw_output: false,
            observer: None,
            durable: None,
            external: None,
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
    let mut options = options;
    options.external = Some(external);
    let durable = options.durable.clone();
    let started = Instant::now();
    let worker_metrics = metrics.clone();
    let worker_outputs = outputs.clone();
    let input = Arc::new(input);
    let guards = timely::execute(config, move |worker| {
        run_worker(
            worker,
            &plan,
            &input,
            &options,
            &*worker_outputs,
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
    input: &InputSource,
    options: &RunOptions,
    outputs: &dyn OutputFactory,
    metrics: &Arc<Metrics>,
) -> Result<(), RunError> {
    let probe = ProbeHandle::new();
    let missing = metrics.clone();
    let durable = options.durable.clone();
    let local = worker.index() % options.workers.max(1);
    let shard_log = durable.as_ref().and_then(|d| d.shard_log(local));
    let worker_index = worker.index();
    let open = |pipeline: &str, kind: OutputKind| -> Arc<dyn LineSink> {
        let sink = outputs.open(pipeline, kind);
        match &durable {
            Some(run) => Arc::new(Resumed {
                inner: sink,
                run: run.clone(),
            }),
            None => sink,
        }
    };
    let mut external_error = None;
    let mut handle = worker.dataflow::<u64, _, _>(|scope| {
        let (handle, ingest) = scope.new_input::<Vec<Ingest>>();
        let changes = shard_operator(ingest, move |n| missing.add_missing_deletes(n), shard_log);
        // NB: the store is probed too, so a run without pipelines still logs all its input.
        let changes = changes.probe_with(&probe);
        let mut rendered = Vec::new();
        for (index, pipeline) in render_plan(plan, changes.clone()).into_iter().enumerate() {
            rendered.push((pipeline.name.clone(), pipeline.rows.clone()));
            let def = &plan.pipelines[index];
            let stats = &metrics.pipelines[index];
            let mut format = RowFormat::for_pipeline(def);
            if options.raw_output {
                format = format.raw();
            }
            let final_sink = def
                .final_state
                .then(|| open(&pipeline.name, OutputKind::Final));
            let rows_sink = open(&pipeline.name, OutputKind::Rows);
            sink_rows(
                pipeline.rows,
                format,
                rows_sink,
                final_sink,
                stats.rows.clone(),
            )
            .probe_with(&probe);
            let late_sink = open(&pipeline.name, OutputKind::Late);
            sink_lines(pipeline.late, late_sink, stats.late.clone()).probe_with(&probe);
            let errors_sink = open(&pipeline.name, OutputKind::Errors);
            sink_lines(pipeline.errors, errors_sink, stats.errors.clone()).probe_with(&probe);
        }
        if let Some(external) = &options.external {
            let context = SinkContext {
                worker: worker_index,
                open: &open,
                durable: durable.clone(),
                external,
                pipelines: &rendered,
            };
            match crate::sinks::external::render(&plan.external, &changes, &context) {
                Ok(streams) => streams.into_iter().for_each(|s| drop(s.probe_with(&probe))),
                Err(e) => external_error = Some(RunError::Worker(e)),
            }
        }
        handle
    });
    if let Some(error) = external_error {
        return Err(error);
    }
    let mut watch = observe::FrontierWatch::for_worker(options.observer.as_ref(), worker.index());
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
    while !probe.done() {
        worker.step();
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
