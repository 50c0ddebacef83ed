//! `kvflow watch`: a data directory's change stream as JSON Lines (with `--follow`, as it
//! is logged), and the start position and shard checks that `kvflow replay` shares.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kvflow::change::EventKind;
use kvflow::store::manifest::recorded_shards;
use kvflow::store::stream::{ChangeFollower, ChangeStream, Start, StreamEvent};
use signal_hook::consts::{SIGINT, SIGTERM};

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

/// Which events `watch` prints: kinds (`--kinds`) and keys (`--keys`).
struct Filter {
    kinds: Vec<EventKind>,
    keys: Option<regex::Regex>,
}

impl Filter {
    fn of(args: &WatchArgs) -> Result<Filter, CliError> {
        let keys = match &args.keys {
            Some(pattern) => Some(
                regex::Regex::new(pattern)
                    .map_err(|e| CliError::File(format!("bad --keys regex: {e}")))?,
            ),
            None => None,
        };
        Ok(Filter {
            kinds: kinds_filter(args.kinds.as_deref())?,
            keys,
        })
    }

    fn shows(&self, item: &StreamEvent) -> bool {
        self.kinds.contains(&item.event.kind)
            && self
                .keys
                .as_ref()
                .is_none_or(|re| re.is_match(&item.event.key))
    }
}

/// Prints an event if the filter shows it; false once the output is closed.
fn print(out: &mut impl Write, filter: &Filter, item: &StreamEvent, line: &mut String) -> bool {
    if !filter.shows(item) {
        return true;
    }
    event_json(item, line);
    out.write_all(line.as_bytes()).is_ok()
}

pub fn watch(args: WatchArgs) -> Result<(), CliError> {
    let start = start_of(args.from.as_deref(), args.since)?;
    check_data_dir(&args.data_dir, start)?;
    let filter = Filter::of(&args)?;
    if args.follow {
        return follow(&args.data_dir, start, &filter);
    }
    let stream =
        ChangeStream::open(&args.data_dir, start).map_err(|e| CliError::File(e.to_string()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = String::new();
    for item in stream {
        let item = item.map_err(|e| CliError::Runtime(e.to_string()))?;
        if !print(&mut out, &filter, &item, &mut line) {
            return Ok(()); // a closed pipe (`| head`) ends the command quietly
        }
    }
    let _ = out.flush();
    Ok(())
}

/// How often `--follow` looks for new records once it has shown everything logged.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// `watch --follow`: prints changes as they are logged until SIGINT or SIGTERM, or until the
/// reader of the output goes away.
fn follow(dir: &Path, start: Start, filter: &Filter) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| CliError::Runtime(format!("cannot handle signals: {e}")))?;
    }
    let mut stream = ChangeFollower::open(dir, start).map_err(|e| CliError::File(e.to_string()))?;
    let mut idle = Idle::new();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        match stream.poll() {
            Ok(Some(item)) => {
                if !print(&mut out, filter, &item, &mut line) {
                    return Ok(());
                }
            }
            Ok(None) => {
                if out.flush().is_err() || idle.wait_output_closed(FOLLOW_POLL) {
                    return Ok(());
                }
            }
            Err(e) => {
                let _ = out.flush();
                return Err(CliError::Runtime(e.to_string()));
            }
        }
    }
    let _ = out.flush();
    Ok(())
}

/// Waiting for new records while watching stdout: a pipe whose reader has gone (`| head`)
/// reports an error to `epoll` without anything being written to it. Output that `epoll`
/// cannot watch (a file) is only waited on.
struct Idle {
    poll: Option<(mio::Poll, mio::Events)>,
}

impl Idle {
    fn new() -> Idle {
        let watched = mio::Poll::new().ok().and_then(|poll| {
            let fd = std::io::stdout().as_raw_fd();
            let mut source = mio::unix::SourceFd(&fd);
            let registered =
                poll.registry()
                    .register(&mut source, mio::Token(0), mio::Interest::WRITABLE);
            registered
                .ok()
                .map(|()| (poll, mio::Events::with_capacity(4)))
        });
        Idle { poll: watched }
    }

    /// Waits up to `timeout` (less on a signal); true when the output's reader went away.
    fn wait_output_closed(&mut self, timeout: Duration) -> bool {
        let Some((poll, events)) = self.poll.as_mut() else {
            std::thread::sleep(timeout);
            return false;
        };
        if poll.poll(events, Some(timeout)).is_err() {
            return false;
        }
        events.iter().any(|e| e.is_error() || e.is_write_closed())
    }
}
