//! `kvflow watch`: a data directory's change stream as JSON Lines, and the start position and
//! shard checks that `kvflow replay` shares.

use std::io::Write;
use std::path::Path;

use kvflow::change::EventKind;
use kvflow::store::manifest::recorded_shards;
use kvflow::store::stream::{ChangeStream, Start, StreamEvent};

use super::CliError;
use crate::args::WatchArgs;

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
pub(super) fn start_of(from: Option<&str>, since: Option<u64>) -> Result<Start, CliError> {
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
pub(super) fn check_data_dir(dir: &Path, start: Start) -> Result<usize, CliError> {
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
