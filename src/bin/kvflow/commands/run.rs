//! `kvflow run`: validates the arguments into a run, runs it, prints the summary.

use std::path::PathBuf;
use std::sync::Arc;

use kvflow::dataflow_file::DefaultInput;
use kvflow::runtime::{
    BadInputPolicy, ClusterConfig, InputSource, Metrics, RunError, RunOptions, run_observed,
};
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::file::DirOutputs;
use kvflow::sinks::{LineSink, OutputFactory};
use kvflow::workload::Workload;

use super::CliError;
use super::generate::workload_config;
use super::progress::Progress;
use crate::args::{GenOptions, OnBadInput, RunArgs};

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
    let total = match &input {
        InputSource::Jsonl(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        _ => None,
    };
    let progress = Progress::start(metrics.clone(), total);
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

/// The first generator option given, if any.
fn generator_flag(options: &GenOptions) -> Option<&'static str> {
    [
        ("--events", options.events.is_some()),
        ("--seed", options.seed.is_some()),
        ("--disorder-ms", options.disorder_ms.is_some()),
        ("--rate-per-sec", options.rate_per_sec.is_some()),
        ("--keys", options.keys.is_some()),
        ("--skew", options.skew.is_some()),
    ]
    .into_iter()
    .find_map(|(flag, given)| given.then_some(flag))
}

/// A file's workload with `--keys` and `--skew` over its own keys and skew.
fn overridden(workload: &Workload, options: &GenOptions) -> Result<Workload, CliError> {
    let file_skew = match workload {
        Workload::Zipf { skew, .. } => Some(*skew),
        _ => None,
    };
    let keys = options.keys.or(workload.keyspace_size_hint());
    Workload::parse(workload.name(), keys, options.skew.or(file_skew)).map_err(CliError::File)
}

/// `--input`, `--generate`, or the file's own default input, in that order. The generator
/// options (`--events`, `--seed`, …) also apply to a file's own generator.
fn choose_input(args: &RunArgs, default: Option<DefaultInput>) -> Result<InputSource, CliError> {
    let read_file = args.input.is_some()
        || args.generate.is_none() && matches!(default, Some(DefaultInput::File(_)));
    if let Some(flag) = generator_flag(&args.generator).filter(|_| read_file) {
        return Err(CliError::File(format!(
            "`{flag}` applies to a generator (--generate, or a dataflow file's own `generate`), \
             and this run reads a file"
        )));
    }
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
        Some(DefaultInput::Generate {
            mut workload,
            mut config,
        }) => {
            if args.generator.keys.is_some() || args.generator.skew.is_some() {
                workload = overridden(&workload, &args.generator)?;
            }
            super::generate::override_config(&mut config, &args.generator);
            Ok(InputSource::Generate { workload, config })
        }
        None => Err(CliError::File(format!(
            "{} has no [input] section: give --input FILE, --input - or --generate WORKLOAD",
            args.file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_skew_override_only_what_they_name() {
        let file = Workload::Zipf {
            keys: 40,
            skew: 1.2,
        };
        let skew = GenOptions {
            skew: Some(2.0),
            ..GenOptions::default()
        };
        let keys = GenOptions {
            keys: Some(7),
            ..GenOptions::default()
        };
        let zipf = |keys, skew| Workload::Zipf { keys, skew };
        assert_eq!(overridden(&file, &skew).ok(), Some(zipf(40, 2.0)));
        assert_eq!(overridden(&file, &keys).ok(), Some(zipf(7, 1.2)));
        let refused = overridden(&Workload::Nexmark, &keys);
        assert!(matches!(refused, Err(CliError::File(m)) if m.contains("`keys` applies only")));
    }
}
