//! Building one worker's dataflow from a plan: the one place where the store, the rendered
//! pipelines, their outputs and the plan's sinks are put together.
//!
//! [`build_dataflow`] is what every command runs on every worker, as timely's examples build
//! a dataflow and hand back its input and probe: the store shard takes the input, `render`
//! turns the plan's pipelines into operators over its changes, each pipeline's rows, late
//! rows and errors go to the run's outputs, and the plan's sync sinks, alerts and routes read
//! the pipelines they name. What it returns, [`WorkerDataflow`], is all the runtime needs to
//! feed the input and step the worker until the probe says it is done.
//!
//! It knows nothing of where input comes from, of threads or processes, or of recovery: a
//! resumed run hands over what it had [`Delivered`], fixed before the dataflow is built, and
//! the shard's log if it keeps one.

pub mod counters;

use std::cell::RefCell;
use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::plan::Plan;
use crate::render::render_plan;
use crate::render::spans::NodeSpans;
use crate::sinks::external::{ExternalSinks, SinkContext};
use crate::sinks::resumed::{Delivered, Resumed};
use crate::sinks::{LineSink, OutputFactory, OutputKind, RowFormat, sink_lines, sink_rows};
use crate::store::Ingest;
use crate::store::data_dir::ShardLog;
use crate::store::operator::shard_operator;

use counters::Metrics;

/// What a worker's dataflow writes to and counts into, besides the plan.
pub struct Parts<'a> {
    pub outputs: &'a dyn OutputFactory,
    pub metrics: &'a Arc<Metrics>,
    /// The delivery threads and counters of the plan's sync sinks, alerts and routes.
    pub external: &'a ExternalSinks,
    /// Write rows in the raw differential form (`diff`, `time`).
    pub raw_output: bool,
    /// A durable run's: what it had delivered before a restart (outputs then drop, or hand
    /// to `write_delivered`, what they would write again). `None`: a run without a data
    /// directory.
    pub delivered: Option<Delivered>,
    /// The log this worker's store shard writes (a durable run's).
    pub shard_log: Option<ShardLog>,
    /// Probe each pipeline's outputs on their own too (for per-pipeline latency).
    pub probe_pipelines: bool,
}

/// The handles of one worker's dataflow.
pub struct WorkerDataflow {
    /// Where the feed sends mutations (each to its shard by the store's exchange).
    pub input: InputHandle<u64, CapacityContainerBuilder<Vec<Ingest>>>,
    /// Done once the store and every output have passed all the input's times.
    pub probe: ProbeHandle<u64>,
    /// Each pipeline's outputs' probe, in plan order (with `Parts::probe_pipelines`).
    pub pipeline_probes: Vec<ProbeHandle<u64>>,
    /// The node of the plan's graph that built each operator.
    pub node_spans: NodeSpans,
}

/// Builds the dataflow of `plan` on `worker`. Fails when a sink cannot start (a delivery
/// thread that cannot be spawned, a route table that does not check).
pub fn build_dataflow(
    worker: &mut Worker,
    plan: &Plan,
    parts: Parts<'_>,
) -> Result<WorkerDataflow, String> {
    let probe = ProbeHandle::new();
    let worker_index = worker.index();
    let (outputs, delivered) = (parts.outputs, parts.delivered);
    let open = |pipeline: &str, kind: OutputKind| open_output(outputs, delivered, pipeline, kind);
    let mut failure = None;
    let mut pipeline_probes = Vec::new();
    let spans = RefCell::new(NodeSpans::default());
    let input = worker.dataflow::<u64, _, _>(|scope| {
        let (input, ingest) = scope.new_input::<Vec<Ingest>>();
        let missing = parts.metrics.clone();
        let changes = shard_operator(
            ingest,
            move |n| missing.add_missing_deletes(n),
            parts.metrics.shard_figures(worker_index),
            parts.shard_log,
            plan.append_only_keys.clone(),
        );
        // NB: the store is probed too, so a run without pipelines still logs all its input.
        let changes = changes.probe_with(&probe);
        let mut rendered = Vec::new();
        let rows_in = |index: usize| parts.metrics.pipelines[index].rows_in_counter();
        let pipelines = render_plan(plan, changes.clone(), rows_in, &spans);
        let next = || scope.worker().peek_identifier();
        for (index, pipeline) in pipelines.into_iter().enumerate() {
            spans
                .borrow_mut()
                .enter(&format!("out_{}", pipeline.name), next());
            rendered.push((pipeline.name.clone(), pipeline.rows.clone()));
            let counters = &parts.metrics.pipelines[index];
            let def = &plan.pipelines[index];
            let own = ProbeHandle::new();
            let probed = |stream: timely::dataflow::Stream<'_, u64, Vec<()>>| {
                let stream = stream.probe_with(&probe);
                if parts.probe_pipelines {
                    stream.probe_with(&own);
                }
            };
            // NB: an internal pipeline's rows reach the pipelines and sinks that read it
            // through `render_plan`; only its own outputs are left out.
            if !def.internal {
                let mut format = RowFormat::for_pipeline(def);
                if parts.raw_output {
                    format = format.raw();
                }
                let final_sink = def
                    .final_state
                    .then(|| open(&pipeline.name, OutputKind::Final));
                let rows = open(&pipeline.name, OutputKind::Rows);
                probed(sink_rows(
                    pipeline.rows,
                    format,
                    rows,
                    final_sink,
                    counters.rows.clone(),
                ));
            }
            let late = open(&pipeline.name, OutputKind::Late);
            probed(sink_lines(pipeline.late, late, counters.late.clone()));
            let errors = open(&pipeline.name, OutputKind::Errors);
            probed(sink_lines(pipeline.errors, errors, counters.errors.clone()));
            if parts.probe_pipelines {
                pipeline_probes.push(own);
            }
            spans.borrow_mut().leave(next());
        }
        let context = SinkContext {
            worker: worker_index,
            open: &open,
            delivered: delivered.unwrap_or_default(),
            external: parts.external,
            pipelines: &rendered,
        };
        match crate::sinks::external::render(&plan.sinks, &changes, &context) {
            Ok(streams) => streams.into_iter().for_each(|s| drop(s.probe_with(&probe))),
            Err(e) => failure = Some(e),
        }
        input
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(WorkerDataflow {
            input,
            probe,
            pipeline_probes,
            node_spans: spans.into_inner(),
        }),
    }
}

/// Opens an output of the run, wrapped so that a resumed run does not write twice what it
/// had delivered.
fn open_output(
    outputs: &dyn OutputFactory,
    delivered: Option<Delivered>,
    pipeline: &str,
    kind: OutputKind,
) -> Arc<dyn LineSink> {
    let sink = outputs.open(pipeline, kind);
    match delivered {
        Some(delivered) => Arc::new(Resumed {
            inner: sink,
            delivered,
        }),
        None => sink,
    }
}
