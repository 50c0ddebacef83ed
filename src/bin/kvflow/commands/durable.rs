//! `--data-dir` for `kvflow run`: the durable run's settings, its identity checks, and the
//! recovery warnings printed before the run starts.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use kvflow::plan::Plan;
use kvflow::runtime::durable::retention::{Retention, RetentionPolicy};
use kvflow::runtime::{DurableConfig, DurableRun, InputSource};
use kvflow::sinks::OutputFactory;
use kvflow::store::wal::{FsyncPolicy, WalOptions};

use super::CliError;
use crate::args::DurabilityArgs;

/// A hex CRC32C of the first 64 KiB of a file.
fn head_checksum(path: &Path) -> Result<String, CliError> {
    let mut head = Vec::with_capacity(1 << 16);
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 16).read_to_end(&mut head))
        .map_err(|e| CliError::File(format!("cannot read {}: {e}", path.display())))?;
    Ok(format!("{:08x}", crc32c::crc32c(&head)))
}

/// What identifies an input across restarts (see `runtime::durable`).
fn input_id(input: &InputSource) -> Result<String, CliError> {
    match input {
        InputSource::Jsonl(path) => {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            Ok(format!(
                "{} (head crc32c {})",
                canonical.display(),
                head_checksum(path)?
            ))
        }
        InputSource::Generate { workload, config } => {
            Ok(format!("generator {} {config:?}", workload.name()))
        }
        InputSource::Memory(m) => Ok(format!("memory ({} mutations)", m.len())),
        InputSource::Logged(dir) => Ok(format!("the log of {}", dir.display())),
        InputSource::Live(_) => Ok("kvflow serve".into()),
        InputSource::Stdin => Err(CliError::File(
            "--data-dir needs an input that can be read again after a crash: a file or \
             --generate, not stdin"
                .into(),
        )),
    }
}

/// Opens the data directory named by `args`, if any, printing what recovery found.
pub fn prepare(
    args: &DurabilityArgs,
    (dataflow, plan): (&Path, &Plan),
    (input, process): (&InputSource, Option<(usize, usize)>),
    workers: usize,
    outputs: &dyn OutputFactory,
) -> Result<Option<Arc<DurableRun>>, CliError> {
    if args.data_dir.is_none() {
        return Ok(None);
    }
    let ids = (head_checksum(dataflow)?, input_id(input)?);
    let Some(mut config) = config(args, ids, plan, 100_000)? else {
        return Ok(None);
    };
    config.process = process;
    let prepared = DurableRun::prepare(config, workers, outputs);
    Ok(Some(Arc::new(opened(prepared)?)))
}

/// The durable settings of `args` (`None` without `--data-dir`); `ids` are the dataflow's
/// and the input's identities, `plan` what retention must keep, `snapshot_every` the
/// command's default.
pub fn config(
    args: &DurabilityArgs,
    (dataflow_id, input_id): (String, String),
    plan: &Plan,
    snapshot_every: u64,
) -> Result<Option<DurableConfig>, CliError> {
    let Some(dir) = &args.data_dir else {
        return Ok(None);
    };
    let fsync: FsyncPolicy = args
        .fsync
        .parse()
        .map_err(|e: kvflow::store::wal::WalError| CliError::File(e.to_string()))?;
    Ok(Some(DurableConfig {
        dir: dir.clone(),
        wal: WalOptions {
            fsync,
            repair: args.repair,
            segment_bytes: match args.segment_bytes {
                0 => WalOptions::default().segment_bytes,
                bytes => bytes,
            },
        },
        snapshot_every: args.snapshot_every.unwrap_or(snapshot_every),
        checkpoint_every: args.checkpoint_every,
        dataflow_id,
        input_id,
        retention: retention(args, plan),
        process: None,
    }))
}

/// Retention as `--retain-age` / `--retain-bytes` ask for it, if they do.
fn retention(args: &DurabilityArgs, plan: &Plan) -> Option<Retention> {
    let policy = RetentionPolicy {
        max_age: args.retain_age,
        max_bytes: args.retain_bytes,
    };
    policy.is_set().then(|| Retention::new(policy, plan))
}

/// A prepared run, after printing its recovery warnings.
pub fn opened(
    prepared: Result<(DurableRun, Vec<String>), kvflow::runtime::RunError>,
) -> Result<DurableRun, CliError> {
    let (run, warnings) = prepared.map_err(|e| CliError::File(e.to_string()))?;
    for warning in warnings {
        tracing::warn!("{warning}");
        eprintln!("warning: {warning}");
    }
    Ok(run)
}
