//! `kvflow run`: validates the arguments into a run, runs it, prints the summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kvflow::dataflow_file::DefaultInput;
use kvflow::runtime::{
    BadInputPolicy, ClusterConfig, InputSource, Metrics, RunError, RunOptions, run_observed,
};
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::file::DirOutputs;
use kvflow::sinks::{LineSink, OutputFactory};

use super::CliError;
use super::generate::workload_config;
use crate::args::{OnBadInput, RunArgs};

pub fn run(args: RunArgs) -> Result<(), CliError> {
    let loaded = kvflow::dataflow_file::load_file(&args.file)?;
    let input = choose_input(&args, loaded.input)?;
    let cluster = match args.processes {
        0 | 1 => None,
        n => Some(
            ClusterConfig::new(n, args.process, args.hostfile.as_deref())
                .map_err(|e| CliError::File(e.to_string()))?,
        ),
    };
    let part = cluster.as_ref().map(|c| c.process);
    let (outputs, bad_input): (Arc<dyn OutputFactory>, Option<Arc<dyn LineSink>>) =
        match &args.output {
            Some(dir) => {
                let outputs = Arc::new(DirOutputs::create(dir, part).map_err(CliError::File)?);
                let bad = outputs.open_named("bad-input");
                (outputs, Some(bad))
            }
            None => (
                super::outputs::stdout_outputs(&loaded.plan, args.pipeline.as_deref())?,
                None,
            ),
        };
    let external = ExternalSinks::new();
    let durable = super::durable::prepare(
        &args.durability,
        (&args.file, &loaded.plan),
        (&input, cluster.as_ref().map(|c| (c.process, c.processes))),
        args.workers.max(1),
        &*outputs,
    )?;
    let options = RunOptions {
        durable,
        workers: args.workers.max(1),
        cluster,
        batch_ms: args.batch_ms.max(1),
        batch_events: args.batch_events,
        on_bad_input: match args.on_bad_input {
            OnBadInput::Fail => BadInputPolicy::Fail,
            OnBadInput::Skip => BadInputPolicy::Skip,
        },
        bad_input,
        raw_output: args.raw,
        external: Some(external.clone()),
        ..RunOptions::default()
    };
    let plan = Arc::new(loaded.plan);
    let names: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
    let metrics = Arc::new(Metrics::new(&names));
    let exporter = super::start_exporter(args.metrics.as_deref(), &plan, &metrics, &external)?;
    if let (Some(exporter), Some(dir)) = (&exporter, &args.durability.data_dir) {
        exporter.watch_data_dir(dir);
    }
    let options = RunOptions {
        operator_stats: exporter.as_ref().map(|e| e.operators.clone()),
        observer: exporter.as_ref().map(super::Exporter::observer),
        ..options
    };
    let progress = Progress::start(metrics.clone(), &input);
    let result = run_observed(plan.clone(), input, options, outputs, metrics);
    progress.stop();
    drop(exporter);
    match result {
        Ok(summary) => {
            eprint!("{summary}");
            if let Some(bytes) = kvflow::bench::run::peak_rss_bytes() {
                eprintln!("peak RSS: {} kB", bytes / 1024);
            }
            for line in external.summary(&plan.sinks) {
                eprintln!("{line}");
            }
            Ok(())
        }
        Err(error @ (RunError::BadInput { .. } | RunError::Io { .. })) => {
            Err(CliError::File(error.to_string()))
        }
        Err(error) => Err(CliError::Runtime(error.to_string())),
    }
}

/// `--input`, `--generate`, or the file's own default input, in that order.
fn choose_input(args: &RunArgs, default: Option<DefaultInput>) -> Result<InputSource, CliError> {
    if let Some(path) = &args.input {
        if path == "-" {
            return Ok(InputSource::Stdin);
        }
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(CliError::File(format!("no input file {}", path.display())));
        }
        return Ok(InputSource::Jsonl(path));
    }
    if let Some(name) = &args.generate {
        let (workload, config) = workload_config(name, &args.generator)?;
        return Ok(InputSource::Generate { workload, config });
    }
    match default {
        Some(DefaultInput::File(path)) => Ok(InputSource::Jsonl(path)),
        Some(DefaultInput::Generate { workload, config }) => {
            Ok(InputSource::Generate { workload, config })
        }
        None => Err(CliError::File(format!(
            "{} has no [input] section: give --input FILE, --input - or --generate WORKLOAD",
            args.file.display()
        ))),
    }
}

/// On stderr when it is a terminal: a bar of the input file read (a spinner for other
/// inputs), with the events read, their rate and the watermark.
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(metrics: Arc<Metrics>, input: &InputSource) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let total = match input {
            InputSource::Jsonl(path) => std::fs::metadata(path).ok().map(|m| m.len()),
            _ => None,
        };
        let thread = std::io::stderr().is_terminal().then(|| {
            let done = done.clone();
            std::thread::spawn(move || show_progress(&metrics, total, &done))
        });
        Progress { done, thread }
    }

    fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn show_progress(metrics: &Metrics, total: Option<u64>, done: &AtomicBool) {
    let (bar, template) = match total {
        Some(total) => (
            indicatif::ProgressBar::new(total),
            "{bar:30} {percent:>3}% of {total_bytes}  {msg}  {elapsed}",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{spinner} {msg}  {elapsed}",
        ),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        let events = metrics.events_in.load(Ordering::Relaxed);
        let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let watermark = metrics.watermark_ms.load(Ordering::Relaxed);
        bar.set_position(metrics.bytes_in.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{events} events ({rate:.0}/s), watermark {watermark} ms"
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
