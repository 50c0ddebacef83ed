//! `kvflow replay`: a dataflow file over a data directory's stored history; with
//! `--from`/`--since`, only the output the live run wrote from that point on (see `sinks::cut`).

use std::sync::Arc;

use kvflow::runtime::{InputSource, Metrics, RunOptions, run_observed};
use kvflow::sinks::OutputFactory;
use kvflow::sinks::cut::FromTime;
use kvflow::sinks::file::DirOutputs;
use kvflow::store::data_dir::History;
use kvflow::store::stream::{Start, first_stamp, refuse_cut_logs};

use super::CliError;
use super::progress::Progress;
use super::watch::{check_data_dir, start_of};
use crate::args::ReplayArgs;

pub fn replay(args: ReplayArgs) -> Result<(), CliError> {
    let start = start_of(args.from.as_deref(), args.since)?;
    check_data_dir(&args.data_dir, start)?;
    refuse_cut_logs(&args.data_dir).map_err(|e| CliError::File(e.to_string()))?;
    let loaded = kvflow::dataflow_file::load_file(&args.file)?;
    let outputs: Arc<dyn OutputFactory> = match &args.output {
        Some(dir) => Arc::new(DirOutputs::create(dir, None).map_err(CliError::File)?),
        None => super::outputs::stdout_outputs(&loaded.plan, args.pipeline.as_deref())?,
    };
    let outputs = match start {
        Start::Beginning => outputs,
        start => {
            let from = first_stamp(&args.data_dir, start)
                .map_err(|e| CliError::File(e.to_string()))?
                .unwrap_or(u64::MAX);
            Arc::new(FromTime {
                inner: outputs,
                from,
            })
        }
    };
    let options = RunOptions {
        raw_output: args.raw,
        ..RunOptions::default().workers(args.workers)
    };
    let input = InputSource::Logged(args.data_dir.clone());
    let names: Vec<String> = loaded
        .plan
        .pipelines
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let metrics = Arc::new(Metrics::new(&names));
    let external = kvflow::sinks::external::ExternalSinks::new();
    let exporter =
        super::start_exporter(args.metrics.as_deref(), &loaded.plan, &metrics, &external)?;
    let options = RunOptions {
        operator_stats: exporter.as_ref().map(|e| e.operators.clone()),
        observer: exporter.as_ref().map(super::Exporter::observer),
        external: Some(external),
        ..options
    };
    let total = History::open(&args.data_dir, None).map(|h| h.progress().1);
    let progress = Progress::start(metrics.clone(), total.ok());
    let result = run_observed(Arc::new(loaded.plan), input, options, outputs, metrics);
    progress.stop();
    let summary = result.map_err(|e| CliError::Runtime(e.to_string()))?;
    drop(exporter);
    eprint!("{summary}");
    Ok(())
}
