//! `kvflow generate`: a deterministic mutation stream as JSON Lines.

use std::io::Write;

use kvflow::source::jsonl::write_mutation;
use kvflow::workload::{GenConfig, Workload, generate as generate_stream};

use super::CliError;
use crate::args::{GenOptions, GenerateArgs};

/// The workload and generator settings given on the command line.
pub fn workload_config(
    name: &str,
    options: &GenOptions,
) -> Result<(Workload, GenConfig), CliError> {
    let workload = Workload::parse(name, options.keys, options.skew).map_err(CliError::File)?;
    let mut config = GenConfig::default();
    override_config(&mut config, options);
    Ok((workload, config))
}

/// The command line's generator options over `config` (a file's `[input]`, or the defaults).
pub fn override_config(config: &mut GenConfig, options: &GenOptions) {
    if let Some(events) = options.events {
        config.events = events;
    }
    if let Some(seed) = options.seed {
        config.seed = seed;
    }
    if let Some(disorder) = options.disorder_ms {
        config.disorder_ms = disorder;
    }
    if let Some(rate) = options.rate_per_sec {
        config.rate_per_sec = rate;
    }
}

pub fn generate(args: GenerateArgs) -> Result<(), CliError> {
    let (workload, config) = workload_config(&args.workload, &args.generator)?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::File(format!("cannot create {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::new();
    for mutation in generate_stream(&workload, &config) {
        line.clear();
        write_mutation(&mutation, &mut line);
        if let Err(e) = out.write_all(line.as_bytes()) {
            return broken_pipe_ok(e);
        }
    }
    out.flush().or_else(broken_pipe_ok)
}

/// Writing into a closed pipe (`| head`) ends the command quietly.
fn broken_pipe_ok(error: std::io::Error) -> Result<(), CliError> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(CliError::Runtime(format!("cannot write: {error}")))
    }
}
