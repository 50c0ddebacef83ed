//! The write-ahead log of one store shard: `DATA_DIR/shard-<k>/wal-<first seq>.log`.
//!
//! Each record is one applied mutation with everything needed to replay it exactly (see
//! [`record`] for the byte layout). Appends are grouped: a batch of mutations is one write
//! ([`WalWriter::commit`]) followed by the fsync policy ([`FsyncPolicy`]: `always`,
//! `interval:<ms>` — the default, `interval:10` — or `never`).
//!
//! Opening a log recovers it ([`Wal::open`]):
//! - a torn tail — the last record of the last segment incomplete or failing its checksum,
//!   or a zero-filled tail — is truncated and reported in [`Recovery::torn`] with the number
//!   of bytes dropped;
//! - a bad record anywhere else refuses to open with [`WalError::Corrupt`], naming the file
//!   and byte offset; with `repair` the log is instead truncated to the last good record and
//!   [`Recovery::repaired`] says how many records were lost (the bad one and every good
//!   record found after it).
//!
//! [`LogReader`] reads records in seq order without changing anything (for change streams
//! and replay while a writer may still be appending).

pub mod fsync_times;
pub mod reader;
pub mod record;
pub mod segment;
pub mod value_codec;
pub mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use reader::{LogReader, Recovery, Repair, TornTail};
pub use record::LogRecord;
pub use writer::WalWriter;

/// Errors of the log, its snapshots and its readers.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{file}: corrupt record at byte offset {offset} ({reason}); refusing to start: \
         `--repair` truncates the log there and reports the records lost"
    )]
    Corrupt {
        file: String,
        offset: u64,
        reason: String,
    },
    #[error("{0}")]
    Sync(String),
    #[error("bad fsync policy `{0}`: expected `always`, `never` or `interval:<ms>` (ms > 0)")]
    BadPolicy(String),
    #[error("{file}: bad snapshot: {reason}")]
    Snapshot { file: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl WalError {
    pub fn io(path: &Path, source: std::io::Error) -> WalError {
        WalError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// When committed records are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every commit (group).
    Always,
    /// At most every so often, by a background thread (see [`writer`]).
    Interval(Duration),
    /// Never: the OS decides (survives a process crash, not a power loss).
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_millis(10))
    }
}

impl FromStr for FsyncPolicy {
    type Err = WalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || WalError::BadPolicy(text.to_string());
        match text.trim() {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            other => {
                let ms: u64 = other
                    .strip_prefix("interval:")
                    .and_then(|ms| ms.trim().parse().ok())
                    .ok_or_else(bad)?;
                if ms == 0 {
                    return Err(bad());
                }
                Ok(FsyncPolicy::Interval(Duration::from_millis(ms)))
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Never => f.write_str("never"),
            FsyncPolicy::Interval(d) => write!(f, "interval:{}", d.as_millis()),
        }
    }
}

/// How a log is opened.
#[derive(Clone, Debug)]
pub struct WalOptions {
    pub fsync: FsyncPolicy,
    /// A new segment starts once the current one is this long.
    pub segment_bytes: u64,
    /// Truncate at a corrupt record instead of refusing to open.
    pub repair: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            fsync: FsyncPolicy::default(),
            segment_bytes: 64 << 20,
            repair: false,
        }
    }
}

/// A shard's log, open for appending.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    writer: WalWriter,
    last_seq: Option<u64>,
}

impl Wal {
    /// Opens (creating) the log in `dir`, recovering it first (see the module doc).
    pub fn open(dir: &Path, options: &WalOptions) -> Result<(Wal, Recovery), WalError> {
        std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, e))?;
        let recovery = reader::recover(dir, options.repair)?;
        let writer = Self::writer_at_end(dir, options)?;
        let wal = Wal {
            dir: dir.to_path_buf(),
            options: options.clone(),
            writer,
            last_seq: recovery.last_seq,
        };
        Ok((wal, recovery))
    }

    fn writer_at_end(dir: &Path, options: &WalOptions) -> Result<WalWriter, WalError> {
        let last = match segment::list_segments(dir)?.pop() {
            Some((_, path)) => {
                let len = std::fs::metadata(&path)
                    .map_err(|e| WalError::io(&path, e))?
                    .len();
                Some((path, len))
            }
            None => None,
        };
        WalWriter::new(dir, options.fsync, options.segment_bytes, last)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seq of the last record appended (committed or not).
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Adds a record to the current group; [`commit`](Self::commit) writes the group.
    pub fn append(&mut self, record: &LogRecord) {
        self.last_seq = Some(record.seq);
        self.writer.append(record);
    }

    pub fn commit(&mut self) -> Result<(), WalError> {
        self.writer.commit()
    }

    /// Forces everything committed to disk, whatever the policy.
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.writer.sync()
    }

    /// Removes every record with seq >= `seq` (records logged past a checkpoint, which the
    /// input will send again). Returns how many were removed.
    pub fn truncate_from(&mut self, seq: u64) -> Result<u64, WalError> {
        self.writer.commit()?;
        self.writer.close_segment()?;
        let removed = reader::truncate_from(&self.dir, seq)?;
        self.writer = Self::writer_at_end(&self.dir, &self.options)?;
        self.last_seq = LogReader::open(&self.dir, None)?.last_seq()?;
        Ok(removed)
    }

    /// Deletes closed segments whose records all have seq <= `seq` and that `remove` agrees
    /// to (retention); returns the seq bound below which records are now gone, if any went.
    pub fn remove_segments_through(
        &mut self,
        seq: u64,
        mut remove: impl FnMut(&Path) -> bool,
    ) -> Result<Option<u64>, WalError> {
        let segments = segment::list_segments(&self.dir)?;
        let mut removed_below = None;
        for pair in segments.windows(2) {
            let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
            if *next_first > seq.saturating_add(1) || !remove(path) {
                break;
            }
            std::fs::remove_file(path).map_err(|e| WalError::io(path, e))?;
            removed_below = Some(*next_first);
        }
        if removed_below.is_some() {
            segment::sync_dir(&self.dir)?;
        }
        Ok(removed_below)
    }
}
