//! What `run` and `replay` share about their outputs: the stdout records of a run without
//! `--output` (all pipelines, or one with `--pipeline`).

use std::sync::Arc;

use kvflow::plan::Plan;
use kvflow::sinks::OutputFactory;
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
