//! Change streams: every change event of a data directory in seq order, each with its
//! resume token `(shard, seq)`, from the beginning, after a token, or since an event time.
//!
//! Events are derived, not stored: each shard's log is replayed through a [`ShardState`]
//! (from its newest snapshot at or before the start when there is one), which gives every
//! event its kind and old value exactly as the live store did. `seq` is unique across
//! shards and follows input order, so "after token (k, s)" means every event with seq > s in
//! any shard. A shard whose log was cut by retention keeps a `floor` file: the seq through
//! which its history is gone; a token below a floor is an error, never a silent gap.
//!
//! [`ChangeStream`] reads what is logged and ends; [`ChangeFollower`] follows a data
//! directory that is being written, with the same tokens.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::data_dir::{History, count_shards, shard_dir};
use super::log_tail::LogTail;
pub use super::log_tail::read_floor;
use super::shard::ShardState;
use super::snapshot::load_latest;
use super::wal::{LogReader, LogRecord, WalError};
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

/// Where one shard's stream begins: its state at the snapshot it starts from, the seq the
/// log is read after (that snapshot's), and which events are shown.
struct ShardStart {
    state: ShardState,
    from: Option<u64>,
    shown: Shown,
}

/// Which events a stream shows: those after a seq, and at or after an event time.
#[derive(Clone, Copy, Debug)]
struct Shown {
    after: Option<u64>,
    since: Option<u64>,
}

impl ShardStart {
    fn open(dir: &Path, shard: usize, start: Start) -> Result<ShardStart, StreamError> {
        let floor = read_floor(dir)?;
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
            Some(seq) => load_latest(dir, Some(seq))?,
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
        Ok(ShardStart {
            state,
            from,
            shown: Shown {
                after: after.or(floor),
                since,
            },
        })
    }
}

/// Applies a logged record to a shard's state: its event, if it makes one that is shown.
fn shown_event(
    state: &mut ShardState,
    shard: usize,
    shown: Shown,
    record: LogRecord,
) -> Option<StreamEvent> {
    let change = state.apply(record.to_ingest())?;
    let visible = shown.after.is_none_or(|a| record.seq > a)
        && shown.since.is_none_or(|ts| change.event.ts >= ts);
    visible.then_some(StreamEvent {
        token: Token {
            shard,
            seq: record.seq,
        },
        event: change.event,
    })
}

struct ShardStream {
    shard: usize,
    state: ShardState,
    reader: LogReader,
    shown: Shown,
    next: Option<StreamEvent>,
}

impl ShardStream {
    fn open(root: &Path, shard: usize, start: Start) -> Result<ShardStream, StreamError> {
        let dir = shard_dir(root, shard);
        let begin = ShardStart::open(&dir, shard, start)?;
        Ok(ShardStream {
            shard,
            state: begin.state,
            reader: LogReader::open(&dir, begin.from)?,
            shown: begin.shown,
            next: None,
        })
    }

    fn advance(&mut self) -> Result<(), StreamError> {
        self.next = None;
        for record in self.reader.by_ref() {
            self.next = shown_event(&mut self.state, self.shard, self.shown, record?);
            if self.next.is_some() {
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

/// How long a follower waits for a missing seq before it takes the records after it: more
/// than a shard lags behind another in logging the writes of one batch.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The change events of a data directory that a running `run` or `serve` is writing, in seq
/// order as they are logged ([`poll`](ChangeFollower::poll) returns `None` when it has shown
/// everything logged so far; poll again later).
///
/// Each shard's log is read with a [`LogTail`]. The next event is the smallest seq among the
/// shards' next records, which is final once every shard has a next record (a shard logs in
/// seq order) or when it is the seq right after the last one taken. Otherwise a shard that
/// has nothing new may still be about to log a smaller seq of the same batch, so the
/// follower waits [`SETTLE`] before it takes the record; what was read before that wait
/// began is then settled and taken without waiting. A token printed by a follower therefore
/// resumes exactly as one printed by [`ChangeStream`].
pub struct ChangeFollower {
    shards: Vec<FollowedShard>,
    /// The largest seq taken (or the start token's).
    last: Option<u64>,
    /// Records up to this seq were read before a wait ended: taken without waiting.
    settled_through: Option<u64>,
    /// Since when the next record waits for a missing seq, and the largest seq read then.
    waiting: Option<(Instant, Option<u64>)>,
    settle: Duration,
}

struct FollowedShard {
    shard: usize,
    state: ShardState,
    tail: LogTail,
    shown: Shown,
    head: Option<LogRecord>,
}

impl ChangeFollower {
    pub fn open(root: &Path, start: Start) -> Result<ChangeFollower, StreamError> {
        Self::with_settle(root, start, SETTLE)
    }

    /// A follower that waits `settle` for a missing seq (see [`SETTLE`]).
    pub fn with_settle(
        root: &Path,
        start: Start,
        settle: Duration,
    ) -> Result<ChangeFollower, StreamError> {
        let count = count_shards(root);
        if count == 0 {
            return Err(StreamError::NoData(root.display().to_string()));
        }
        let mut shards = Vec::with_capacity(count);
        for shard in 0..count {
            let dir = shard_dir(root, shard);
            let begin = ShardStart::open(&dir, shard, start)?;
            shards.push(FollowedShard {
                shard,
                state: begin.state,
                tail: LogTail::open(&dir, begin.from),
                shown: begin.shown,
                head: None,
            });
        }
        let last = match start {
            Start::After(token) => Some(token.seq),
            _ => None,
        };
        Ok(ChangeFollower {
            shards,
            last,
            settled_through: None,
            waiting: None,
            settle,
        })
    }

    /// The next event logged so far, or `None` when there is none yet.
    pub fn poll(&mut self) -> Result<Option<StreamEvent>, StreamError> {
        // NB: a shard at the end of its log is asked once per poll, not once per record.
        let mut at_end = vec![false; self.shards.len()];
        loop {
            for (shard, at_end) in self.shards.iter_mut().zip(at_end.iter_mut()) {
                if shard.head.is_none() && !*at_end {
                    shard.head = shard.tail.poll()?;
                    *at_end = shard.head.is_none();
                }
            }
            let next = self
                .shards
                .iter()
                .enumerate()
                .filter_map(|(at, s)| s.head.as_ref().map(|record| (record.seq, at)))
                .min();
            let Some((seq, at)) = next else {
                self.waiting = None;
                return Ok(None);
            };
            if !self.may_take(seq, at) {
                return Ok(None);
            }
            self.last = self.last.max(Some(seq));
            let shard = &mut self.shards[at];
            let Some(record) = shard.head.take() else {
                continue;
            };
            if let Some(event) = shown_event(&mut shard.state, shard.shard, shard.shown, record) {
                return Ok(Some(event));
            }
        }
    }

    /// Whether the record `seq`, the smallest read, of shard `at` can be taken now: no
    /// smaller seq can still be logged (see the type's doc).
    fn may_take(&mut self, seq: u64, at: usize) -> bool {
        let before_start = self.shards[at]
            .shown
            .after
            .is_some_and(|after| seq <= after);
        let next_in_line = self.last.map_or(seq == 0, |last| seq == last + 1);
        let settled = self.settled_through.is_some_and(|through| seq <= through);
        let every_shard_ahead = self.shards.iter().all(|s| s.head.is_some());
        if before_start || next_in_line || settled || every_shard_ahead {
            self.waiting = None;
            return true;
        }
        let read_through = self
            .shards
            .iter()
            .filter_map(|s| s.tail.loaded_through())
            .max();
        match self.waiting {
            None => {
                self.waiting = Some((Instant::now(), read_through));
                false
            }
            Some((since, read)) if since.elapsed() >= self.settle => {
                self.settled_through = read;
                self.waiting = None;
                true
            }
            Some(_) => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::data_dir::DataDir;
    use crate::store::data_dir::test_support::log_put;
    use crate::store::wal::WalOptions;

    fn log(dir: &DataDir, shard: usize, seq: u64) {
        log_put(dir, shard, (seq, 0, 100 + seq));
    }

    fn seqs(follower: &mut ChangeFollower) -> Vec<u64> {
        std::iter::from_fn(|| follower.poll().expect("poll"))
            .map(|e| e.token.seq)
            .collect()
    }

    #[test]
    fn a_follower_waits_for_a_seq_another_shard_has_not_logged_yet() {
        let root = tempfile::tempdir().expect("tempdir");
        let (dir, _) = DataDir::open(root.path(), 2, &WalOptions::default()).expect("open");
        let mut follower =
            ChangeFollower::with_settle(root.path(), Start::Beginning, Duration::from_secs(600))
                .expect("follow");
        log(&dir, 0, 0);
        log(&dir, 0, 2);
        assert_eq!(
            seqs(&mut follower),
            vec![0],
            "seq 1 may still come from shard 1"
        );
        log(&dir, 1, 1);
        assert_eq!(seqs(&mut follower), vec![1, 2]);
        log(&dir, 1, 3);
        log(&dir, 0, 4);
        assert_eq!(seqs(&mut follower), vec![3, 4]);
    }

    #[test]
    fn a_seq_that_never_comes_is_skipped_after_the_settle_time() {
        let root = tempfile::tempdir().expect("tempdir");
        let (dir, _) = DataDir::open(root.path(), 2, &WalOptions::default()).expect("open");
        let settle = Duration::from_millis(50);
        let token = Token { shard: 0, seq: 0 };
        let mut follower =
            ChangeFollower::with_settle(root.path(), Start::After(token), settle).expect("follow");
        for seq in [0, 2, 3, 5] {
            log(&dir, 0, seq);
        }
        assert_eq!(seqs(&mut follower), Vec::<u64>::new());
        std::thread::sleep(settle * 2);
        assert_eq!(
            seqs(&mut follower),
            vec![2, 3, 5],
            "what was read before the wait is settled"
        );
    }
}
