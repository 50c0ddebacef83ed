//! Change streams: every change event of a data directory in seq order, each with its
//! resume token `(shard, seq)`, from the beginning, after a token, or since an event time.
//!
//! Events are derived, not stored: each shard's log is replayed through a [`ShardState`]
//! (from its newest snapshot at or before the start when there is one), which gives every
//! event its kind and old value exactly as the live store did. `seq` is unique across
//! shards and follows input order, so "after token (k, s)" means every event with seq > s in
//! any shard. A shard whose log was cut by retention keeps a `floor` file: the seq through
//! which its history is gone; a token below a floor is an error, never a silent gap.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::data_dir::{History, count_shards, shard_dir};
use super::shard::ShardState;
use super::snapshot::load_latest;
use super::wal::{LogReader, WalError};
use crate::change::ChangeEvent;

/// Where to resume a stream: after the event with this seq (its shard for reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Token {
    pub shard: usize,
    pub seq: u64,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.shard, self.seq)
    }
}

impl FromStr for Token {
    type Err = StreamError;

    fn from_str(text: &str) -> Result<Token, StreamError> {
        let bad = || StreamError::BadToken(text.to_string());
        let (shard, seq) = text.split_once(':').ok_or_else(bad)?;
        Ok(Token {
            shard: shard.trim().parse().map_err(|_| bad())?,
            seq: seq.trim().parse().map_err(|_| bad())?,
        })
    }
}

/// Where a stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Beginning,
    After(Token),
    /// Events whose event time is at least this (ms).
    Since(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error("bad resume token `{0}`: expected <shard>:<seq>, e.g. 0:1234")]
    BadToken(String),
    #[error(
        "token {token} is older than the retained log: shard {shard} keeps events after seq \
         {floor} only"
    )]
    Expired {
        token: Token,
        shard: usize,
        floor: u64,
    },
    #[error("{0} holds no shard logs")]
    NoData(String),
    #[error(
        "shard {shard}'s log was cut by retention through seq {floor}: a replay needs the \
         whole history"
    )]
    CutLog { shard: usize, floor: u64 },
}

/// One event of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEvent {
    pub token: Token,
    pub event: ChangeEvent,
}

/// The seq through which a shard's history was removed by retention, if any was.
pub fn read_floor(shard: &Path) -> Result<Option<u64>, WalError> {
    let path = shard.join("floor");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| WalError::Invalid(format!("{}: not a seq", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WalError::io(&path, e)),
    }
}

struct ShardStream {
    shard: usize,
    state: ShardState,
    reader: LogReader,
    after: Option<u64>,
    since: Option<u64>,
    next: Option<StreamEvent>,
}

impl ShardStream {
    fn open(root: &Path, shard: usize, start: Start) -> Result<ShardStream, StreamError> {
        let dir = shard_dir(root, shard);
        let floor = read_floor(&dir)?;
        let after = match start {
            Start::After(token) => Some(token.seq),
            _ => None,
        };
        if let (Some(floor), Start::After(token)) = (floor, start)
            && token.seq < floor
        {
            return Err(StreamError::Expired {
                token,
                shard,
                floor,
            });
        }
        let base = after.or(floor);
        let snapshot = match base {
            Some(seq) => load_latest(&dir, Some(seq))?,
            None => None,
        };
        let mut state = ShardState::default();
        let from = snapshot.map(|snapshot| {
            for (key, stored) in snapshot.entries {
                state.restore(key, stored);
            }
            snapshot.seq
        });
        let since = match start {
            Start::Since(ts) => Some(ts),
            _ => None,
        };
        Ok(ShardStream {
            shard,
            state,
            reader: LogReader::open(&dir, from)?,
            after: after.or(floor),
            since,
            next: None,
        })
    }

    fn advance(&mut self) -> Result<(), StreamError> {
        self.next = None;
        for record in self.reader.by_ref() {
            let record = record?;
            let Some(change) = self.state.apply(record.to_ingest()) else {
                continue;
            };
            let shown = self.after.is_none_or(|a| record.seq > a)
                && self.since.is_none_or(|ts| change.event.ts >= ts);
            if shown {
                self.next = Some(StreamEvent {
                    token: Token {
                        shard: self.shard,
                        seq: record.seq,
                    },
                    event: change.event,
                });
                break;
            }
        }
        Ok(())
    }
}

/// The change events of a data directory, merged across shards in seq order.
pub struct ChangeStream {
    shards: Vec<ShardStream>,
}

impl ChangeStream {
    pub fn open(root: &Path, start: Start) -> Result<ChangeStream, StreamError> {
        let count = count_shards(root);
        if count == 0 {
            return Err(StreamError::NoData(root.display().to_string()));
        }
        let mut shards = Vec::with_capacity(count);
        for shard in 0..count {
            let mut stream = ShardStream::open(root, shard, start)?;
            stream.advance()?;
            shards.push(stream);
        }
        Ok(ChangeStream { shards })
    }
}

impl Iterator for ChangeStream {
    type Item = Result<StreamEvent, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        let shard = self
            .shards
            .iter_mut()
            .filter(|s| s.next.is_some())
            .min_by_key(|s| s.next.as_ref().map(|e| e.token.seq))?;
        let event = shard.next.take();
        match shard.advance() {
            Ok(()) => event.map(Ok),
            Err(e) => Some(Err(e)),
        }
    }
}

/// The logged batch stamp at which a stream from `start` begins: that of the first change
/// after the token, or of the first change whose event time is at least `since`. `None`
/// when no change qualifies. A replay cut there writes what the live run wrote from then on.
pub fn first_stamp(root: &Path, start: Start) -> Result<Option<u64>, StreamError> {
    refuse_cut_logs(root)?;
    let first = match start {
        Start::Beginning => History::open(root, None)?.next(),
        Start::After(token) => {
            let dir = shard_dir(root, token.shard);
            if !dir.is_dir() {
                return Err(StreamError::NoData(dir.display().to_string()));
            }
            LogReader::open(&dir, Some(token.seq))?
                .next()
                .map(|r| r.map(|record| (token.shard, record)))
        }
        Start::Since(ts) => History::open(root, None)?
            .find(|r| r.as_ref().map_or(true, |(_, record)| record.ts >= ts)),
    };
    Ok(first.transpose()?.map(|(_, record)| record.time))
}

/// A replay needs every shard's whole history: a log cut by retention is refused.
pub fn refuse_cut_logs(root: &Path) -> Result<(), StreamError> {
    let count = count_shards(root);
    if count == 0 {
        return Err(StreamError::NoData(root.display().to_string()));
    }
    for shard in 0..count {
        if let Some(floor) = read_floor(&shard_dir(root, shard))? {
            return Err(StreamError::CutLog { shard, floor });
        }
    }
    Ok(())
}
