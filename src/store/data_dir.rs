//! A data directory: one log and its snapshots per shard (`DATA_DIR/shard-<k>/`), the
//! logging hook the shard operator calls, and the merged history of every shard. The shard
//! count is recorded when the directory is created, and a missing shard is refused (see
//! [`manifest`](super::manifest)).
//!
//! `seq` is the mutation's position in its source and so unique and increasing across the
//! whole store; the merged history is every shard's records in seq order, which is input
//! order, and its batch stamps (`time`) never go backwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::log_progress::LogProgress;
pub use super::manifest::shard_dir;
use super::manifest::{has_manifest, record_shards, recorded_shards, shard_count};
use super::shard::{Ingest, ShardState, Stored};
use super::snapshot::{Snapshot, remove_leftovers, remove_snapshots, write_snapshot};
use super::wal::{LogReader, LogRecord, Recovery, Wal, WalError, WalOptions};

/// How many shards `root` records (see [`manifest`](super::manifest); 0 for none).
pub fn count_shards(root: &Path) -> usize {
    shard_count(root)
}

/// The shared handle of one shard's log.
pub type SharedWal = Arc<Mutex<Wal>>;

/// Every shard's log of a data directory, open for appending.
pub struct DataDir {
    root: PathBuf,
    shards: Vec<SharedWal>,
}

impl DataDir {
    /// Opens (creating) `shards` shard logs; a directory missing one of its recorded shards,
    /// or made with another shard count (keys would move between shards), is refused.
    pub fn open(
        root: &Path,
        shards: usize,
        options: &WalOptions,
    ) -> Result<(DataDir, Vec<Recovery>), WalError> {
        if let Some(recorded) = recorded_shards(root)?
            && recorded != shards
        {
            return Err(WalError::Invalid(format!(
                "{} holds {recorded} shards (one per worker of the run that made it), and this \
                 run has {shards}: run it with -w {recorded} (workers per process)",
                root.display()
            )));
        }
        let mut wals = Vec::new();
        let mut recoveries = Vec::new();
        for shard in 0..shards {
            let (wal, recovery) = Wal::open(&shard_dir(root, shard), options)?;
            remove_leftovers(&shard_dir(root, shard))?;
            wals.push(Arc::new(Mutex::new(wal)));
            recoveries.push(recovery);
        }
        if !has_manifest(root) {
            record_shards(root, shards)?;
        }
        let dir = DataDir {
            root: root.to_path_buf(),
            shards: wals,
        };
        Ok((dir, recoveries))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn shard(&self, shard: usize) -> Option<SharedWal> {
        self.shards.get(shard).cloned()
    }

    /// Runs `f` on every shard's log in turn, holding its lock.
    pub fn each_shard(
        &self,
        mut f: impl FnMut(&mut Wal) -> Result<(), WalError>,
    ) -> Result<(), WalError> {
        for wal in &self.shards {
            let mut wal = wal
                .lock()
                .map_err(|_| WalError::Invalid("a shard log's lock is poisoned".into()))?;
            f(&mut wal)?;
        }
        Ok(())
    }

    /// Forces every shard's committed records to disk.
    pub fn sync_all(&self) -> Result<(), WalError> {
        self.each_shard(|wal| wal.sync())
    }

    /// Drops every record and snapshot at or past `seq` in every shard.
    pub fn truncate_from(&self, seq: u64) -> Result<u64, WalError> {
        let mut removed = 0;
        self.each_shard(|wal| {
            removed += wal.truncate_from(seq)?;
            remove_snapshots(wal.dir(), |covered| covered >= seq)
        })?;
        Ok(removed)
    }
}

/// Every shard's records with seq > `after`, merged in seq order.
pub struct History {
    /// Each open shard's index and reader.
    readers: Vec<(usize, std::iter::Peekable<LogReader>)>,
    /// The bytes of the log segments read so far.
    loaded: Arc<AtomicU64>,
    /// The bytes of every segment to read, when opened.
    total: u64,
}

impl History {
    /// Every shard's records (refused when a recorded shard is missing).
    pub fn open(root: &Path, after: Option<u64>) -> Result<History, WalError> {
        let shards = recorded_shards(root)?.unwrap_or(0);
        Self::open_after(root, &vec![after; shards])
    }

    /// The records of reader `part`'s share of the shards, `parts` readers in all: shard k
    /// is read by reader `k % parts` (a replay split among workers).
    pub fn open_share(root: &Path, part: usize, parts: usize) -> Result<History, WalError> {
        let shards = recorded_shards(root)?.unwrap_or(0);
        let share = (0..shards).filter(|k| k % parts.max(1) == part);
        Self::open_shards(root, share.map(|k| (k, None)))
    }

    /// Shard k's records with seq > `after[k]` (a restart past retention floors).
    pub fn open_after(root: &Path, after: &[Option<u64>]) -> Result<History, WalError> {
        Self::open_shards(root, after.iter().copied().enumerate())
    }

    /// The records of the given shards, each with seq > its bound.
    pub fn open_shards(
        root: &Path,
        shards: impl Iterator<Item = (usize, Option<u64>)>,
    ) -> Result<History, WalError> {
        let loaded = Arc::new(AtomicU64::new(0));
        let mut total = 0;
        let readers = shards
            .map(|(k, after)| {
                let reader = LogReader::open(&shard_dir(root, k), after)?;
                total += reader.bytes_left();
                Ok((k, reader.counting_into(loaded.clone()).peekable()))
            })
            .collect::<Result<_, WalError>>()?;
        Ok(History {
            readers,
            loaded,
            total,
        })
    }

    /// How far the history has been read: the bytes of the log segments read so far (they
    /// are read whole) and of all of them, for a progress bar.
    pub fn progress(&self) -> (Arc<AtomicU64>, u64) {
        (self.loaded.clone(), self.total)
    }
}

impl Iterator for History {
    type Item = Result<(usize, LogRecord), WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(u64, usize)> = None;
        for (at, (shard, reader)) in self.readers.iter_mut().enumerate() {
            match reader.peek() {
                Some(Ok(record)) if best.is_none_or(|(seq, _)| record.seq < seq) => {
                    best = Some((record.seq, at));
                }
                Some(Err(_)) => {
                    let shard = *shard;
                    return reader.next().map(|r| r.map(|rec| (shard, rec)));
                }
                _ => {}
            }
        }
        let (_, at) = best?;
        let (shard, reader) = &mut self.readers[at];
        let shard = *shard;
        reader.next().map(|r| r.map(|rec| (shard, rec)))
    }
}

/// What a shard operator does with a data directory: log each batch before applying it and
/// snapshot its state every so many records. A failure is kept for the feeder to report
/// (an operator cannot return an error); the run then stops before its next checkpoint.
///
/// A live run (a server's) reports to its [`LogProgress`] instead: a failed commit stays
/// buffered and is retried ([`retry`](ShardLog::retry)), and the server holds or refuses
/// writes meanwhile. A failed snapshot is only a warning there: the log holds everything.
pub struct ShardLog {
    wal: SharedWal,
    /// Records with a smaller seq are replayed history, already logged.
    logged_from: u64,
    snapshot_every: u64,
    since_snapshot: u64,
    failure: Arc<Mutex<Option<String>>>,
    /// The snapshot a restart past a retention floor starts from.
    seed: Option<Vec<(Arc<str>, Stored)>>,
    /// Under retention, older snapshots stay until retention moves the floor past them.
    keep_snapshots: bool,
    /// The snapshot at a retention floor stays: a restart starts from it.
    floor: Option<u64>,
    /// A live run's progress, and this shard's index in it.
    progress: Option<(Arc<LogProgress>, usize)>,
    /// The largest seq appended that the progress has not been told is logged.
    unreported: Option<u64>,
}

impl ShardLog {
    pub fn new(
        wal: SharedWal,
        logged_from: u64,
        snapshot_every: u64,
        failure: Arc<Mutex<Option<String>>>,
    ) -> ShardLog {
        ShardLog {
            wal,
            logged_from,
            snapshot_every: snapshot_every.max(1),
            since_snapshot: 0,
            failure,
            seed: None,
            keep_snapshots: false,
            floor: None,
            progress: None,
            unreported: None,
        }
    }

    /// Reports each commit to a live run's `progress` as shard `shard`.
    pub fn reporting_to(mut self, progress: Arc<LogProgress>, shard: usize) -> ShardLog {
        self.progress = Some((progress, shard));
        self
    }

    /// Whether a failed commit waits to be retried.
    pub fn needs_retry(&self) -> bool {
        self.progress.is_some() && self.unreported.is_some()
    }

    /// Starts the shard from `snapshot`'s keys instead of an empty state.
    pub fn with_seed(mut self, snapshot: Option<Snapshot>) -> ShardLog {
        self.seed = snapshot.map(|s| s.entries);
        self
    }

    /// Which older snapshots a new one leaves: all of them under retention (which removes
    /// those below its floor), else only the one at the floor, if there is a floor.
    pub fn keeping_snapshots(mut self, all: bool, floor: Option<u64>) -> ShardLog {
        self.keep_snapshots = all;
        self.floor = floor;
        self
    }

    /// The seed, once.
    pub fn take_seed(&mut self) -> Option<Vec<(Arc<str>, Stored)>> {
        self.seed.take()
    }

    fn fail(&self, error: WalError) {
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(error.to_string());
        }
    }

    /// Logs the new records of one batch at `time` with one commit.
    pub fn log(&mut self, time: u64, batch: &[Ingest]) {
        let Ok(mut wal) = self.wal.lock() else { return };
        let before = self.since_snapshot;
        for ingest in batch.iter().filter(|i| i.seq >= self.logged_from) {
            wal.append(&LogRecord::from_ingest(ingest, time));
            self.since_snapshot += 1;
            self.unreported = self.unreported.max(Some(ingest.seq));
        }
        if self.since_snapshot > before {
            let committed = wal.commit();
            drop(wal);
            self.after_commit(committed);
        }
    }

    /// Commits again what a failed commit left buffered (a live run only).
    pub fn retry(&mut self) {
        if !self.needs_retry() {
            return;
        }
        let Ok(mut wal) = self.wal.lock() else { return };
        let committed = wal.commit();
        drop(wal);
        self.after_commit(committed);
    }

    fn after_commit(&mut self, committed: Result<(), WalError>) {
        match (committed, &self.progress) {
            (Ok(()), Some((progress, shard))) => {
                if let Some(seq) = self.unreported.take() {
                    progress.logged(*shard, seq);
                }
            }
            (Ok(()), None) => self.unreported = None,
            (Err(e), Some((progress, shard))) => progress.failed(*shard, e.to_string()),
            (Err(e), None) => self.fail(e),
        }
    }

    /// Writes a snapshot of `state` once enough records were logged since the last one.
    pub fn maybe_snapshot(&mut self, time: u64, state: &ShardState) {
        // NB: not while a commit waits for a retry: the snapshot would cover unlogged records.
        if self.since_snapshot < self.snapshot_every || self.needs_retry() {
            return;
        }
        self.since_snapshot = 0;
        let Ok(wal) = self.wal.lock() else { return };
        let Some(seq) = wal.last_seq() else { return };
        let dir = wal.dir().to_path_buf();
        drop(wal);
        let (keep, floor) = (self.keep_snapshots, self.floor);
        let written = write_snapshot(&dir, seq, time, state.len(), state.iter()).and_then(|_| {
            remove_snapshots(&dir, |covered| {
                !keep && covered < seq && Some(covered) != floor
            })
        });
        match (written, &self.progress) {
            (Ok(()), _) => {}
            (Err(e), Some(_)) => eprintln!("warning: snapshot not written (the log holds it): {e}"),
            (Err(e), None) => self.fail(e),
        }
    }
}

/// Output file lengths by path, as a checkpoint records them.
pub type OutputLengths = BTreeMap<String, u64>;

/// What the store's tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{DataDir, LogRecord};
    use crate::change::Op;
    use crate::value::Value;

    /// Logs and commits, in `shard` of `dir`, a put of `k<seq>` = `seq` at timely time `time`
    /// and event time `ts`.
    pub(crate) fn log_put(dir: &DataDir, shard: usize, (seq, time, ts): (u64, u64, u64)) {
        let wal = dir.shard(shard).expect("shard");
        let mut wal = wal.lock().expect("lock");
        wal.append(&LogRecord {
            seq,
            time,
            ts,
            max_seen: 0,
            op: Op::Put,
            key: format!("k{seq}").into(),
            value: Value::Int(seq as i64),
            origin: None,
        });
        wal.commit().expect("commit");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::log_put;
    use super::*;
    use std::sync::atomic::Ordering;

    /// The bytes of every log segment under `root`, read from the directory.
    fn segment_bytes(root: &Path) -> u64 {
        let shards = std::fs::read_dir(root).expect("root").flatten();
        let files = shards.filter(|s| s.path().is_dir()).flat_map(|s| {
            std::fs::read_dir(s.path())
                .expect("shard")
                .flatten()
                .collect::<Vec<_>>()
        });
        let logs = files.filter(|f| f.file_name().to_string_lossy().ends_with(".log"));
        logs.map(|f| f.metadata().expect("metadata").len()).sum()
    }

    #[test]
    fn a_history_counts_the_log_bytes_it_has_read_up_to_all_of_them() {
        let root = tempfile::tempdir().expect("tempdir");
        let options = WalOptions {
            segment_bytes: 2048,
            ..WalOptions::default()
        };
        let (dir, _) = DataDir::open(root.path(), 2, &options).expect("open");
        for seq in 0..600u64 {
            log_put(&dir, (seq % 2) as usize, (seq, seq / 10, seq));
        }
        let history = History::open(root.path(), None).expect("history");
        let (loaded, total) = history.progress();
        assert_eq!(total, segment_bytes(root.path()));
        let mut seen = Vec::new();
        for record in history {
            record.expect("a record");
            seen.push(loaded.load(Ordering::Relaxed));
        }
        assert_eq!(seen.len(), 600);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never goes back");
        let half = seen[299] as f64 / total as f64;
        assert!(
            (0.4..0.6).contains(&half),
            "half the records, {half} of the bytes"
        );
        assert_eq!(seen.last(), Some(&total), "all of them at the end");
    }
}
