//! What `run`, `replay` and `serve` share about their outputs: the stdout records of a run
//! without `--output` (all pipelines, or one with `--pipeline`), and the closing summary of
//! the sync sinks, alerts and routes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use kvflow::plan::Plan;
use kvflow::sinks::OutputFactory;
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::file::{StdoutOutputs, StdoutPipeline};

use super::CliError;

/// Stdout records (see `sinks::file`) of every output, or only of `pipeline`'s, which must
/// be one of the plan's pipelines.
pub fn stdout_outputs(
    plan: &Plan,
    pipeline: Option<&str>,
) -> Result<Arc<dyn OutputFactory>, CliError> {
    let Some(name) = pipeline else {
        return Ok(Arc::new(StdoutOutputs));
    };
    if plan.pipeline(name).is_none() {
        let names: Vec<&str> = plan.pipelines.iter().map(|p| p.name.as_str()).collect();
        return Err(CliError::File(format!(
            "--pipeline {name}: no such pipeline (the file has: {})",
            names.join(", ")
        )));
    }
    Ok(Arc::new(StdoutPipeline {
        pipeline: name.to_string(),
    }))
}

/// One line per sync sink and alert, and one for the routes when the plan has any.
pub fn sink_summary(external: &ExternalSinks, plan: &Plan) -> Vec<String> {
    let mut lines = external.summary();
    if plan.sinks.routes.is_some() {
        let stats = external.route_stats();
        lines.push(format!(
            "routes: {} routed, {} unrouted, {} handler calls",
            stats.routed.load(Ordering::Relaxed),
            stats.unrouted.load(Ordering::Relaxed),
            stats.handled.load(Ordering::Relaxed)
        ));
    }
    lines
}
