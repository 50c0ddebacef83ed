//! `kvflow watch` (a data directory's change stream as JSON Lines) and `kvflow replay`
//! (a dataflow file over the stored history; with `--from`/`--since`, only the output the
//! live run wrote from that point on, see `sinks::cut`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use kvflow::change::EventKind;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputFactory;
use kvflow::sinks::cut::FromTime;
use kvflow::sinks::file::{DirOutputs, StdoutOutputs};
use kvflow::store::manifest::recorded_shards;
use kvflow::store::stream::{ChangeStream, Start, StreamEvent, first_stamp, refuse_cut_logs};

use super::CliError;
use crate::args::{ReplayArgs, WatchArgs};

fn kinds_filter(kinds: Option<&str>) -> Result<Vec<EventKind>, CliError> {
    let Some(kinds) = kinds else {
        return Ok(EventKind::ALL.to_vec());
    };
    kinds
        .split(',')
        .map(|k| {
            EventKind::parse(k.trim()).ok_or_else(|| {
                CliError::File(format!(
                    "bad kind `{k}` in --kinds: expected insert, update or delete"
                ))
            })
        })
        .collect()
}

fn event_json(item: &StreamEvent, line: &mut String) {
    let event = &item.event;
    line.clear();
    line.push_str("{\"token\":\"");
    line.push_str(&item.token.to_string());
    line.push_str(&format!(
        "\",\"shard\":{},\"seq\":{},\"ts\":{},\"kind\":\"{}\",\"key\":",
        item.token.shard,
        event.seq,
        event.ts,
        event.kind.name()
    ));
    kvflow::value::write_json_string(&event.key, line);
    line.push_str(",\"value\":");
    event.new.write_json(line);
    line.push_str(",\"old\":");
    event.old.write_json(line);
    line.push_str("}\n");
}

/// `--from TOKEN` or `--since TS` (or neither).
fn start_of(from: Option<&str>, since: Option<u64>) -> Result<Start, CliError> {
    Ok(match (from, since) {
        (Some(token), _) => {
            Start::After(token.parse().map_err(|e| CliError::File(format!("{e}")))?)
        }
        (None, Some(ts)) => Start::Since(ts),
        (None, None) => Start::Beginning,
    })
}

/// The data directory's shard count: refused when it holds none or misses one, or when
/// `start` resumes from a token of a shard it does not have.
fn check_data_dir(dir: &Path, start: Start) -> Result<usize, CliError> {
    let shards = recorded_shards(dir)
        .map_err(|e| CliError::File(e.to_string()))?
        .ok_or_else(|| CliError::File(format!("{} holds no shard logs", dir.display())))?;
    match start {
        Start::After(token) if token.shard >= shards => Err(CliError::File(format!(
            "token {token} names shard {}, which does not exist: {} has {shards} shard(s), \
             0 to {}",
            token.shard,
            dir.display(),
            shards - 1
        ))),
        _ => Ok(shards),
    }
}

pub fn watch(args: WatchArgs) -> Result<(), CliError> {
    let start = start_of(args.from.as_deref(), args.since)?;
    check_data_dir(&args.data_dir, start)?;
    let kinds = kinds_filter(args.kinds.as_deref())?;
    let keys = match &args.keys {
        Some(pattern) => Some(
            regex::Regex::new(pattern)
                .map_err(|e| CliError::File(format!("bad --keys regex: {e}")))?,
        ),
        None => None,
    };
    let stream =
        ChangeStream::open(&args.data_dir, start).map_err(|e| CliError::File(e.to_string()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = String::new();
    for item in stream {
        let item = item.map_err(|e| CliError::Runtime(e.to_string()))?;
        let kind_ok = kinds.contains(&item.event.kind);
        if !kind_ok
            || keys
                .as_ref()
                .is_some_and(|re| !re.is_match(&item.event.key))
        {
            continue;
        }
        event_json(&item, &mut line);
        if out.write_all(line.as_bytes()).is_err() {
            return Ok(()); // a closed pipe (`| head`) ends the command quietly
        }
    }
    let _ = out.flush();
    Ok(())
}

pub fn replay(args: ReplayArgs) -> Result<(), CliError> {
    let start = start_of(args.from.as_deref(), args.since)?;
    check_data_dir(&args.data_dir, start)?;
    refuse_cut_logs(&args.data_dir).map_err(|e| CliError::File(e.to_string()))?;
    let loaded = kvflow::spec::load_file(&args.file)?;
    let outputs: Arc<dyn OutputFactory> = match &args.output {
        Some(dir) => Arc::new(DirOutputs::create(dir, None).map_err(CliError::File)?),
        None => Arc::new(StdoutOutputs),
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
    let summary = run(Arc::new(loaded.plan), input, options, outputs)
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    eprint!("{summary}");
    Ok(())
}
