//! Appending to a shard's log: group commit, segment roll-over and the fsync policy.
//!
//! [`WalWriter::append`] only encodes into a buffer; [`WalWriter::commit`] writes the whole
//! group with one `write` and then applies the fsync policy, so a batch of mutations costs
//! one system call (and one fsync under `always`).
//!
//! Decision — `interval:<ms>` fsyncs inline, at the first commit that finds N ms passed
//! since the last fsync, and a background thread fsyncs only when commits stopped coming:
//! when something was written but no fsync happened for N ms. The window of unsynced data is
//! thus bounded by about N ms whatever the traffic. A thread that fsyncs on its own clock
//! while the writer keeps appending was measured slower than fsyncing on every commit: the
//! two contend for the file's pages. Under steady traffic the thread now stays idle, and the
//! writer pays one fsync per period. The writer and the thread use two handles of the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fsync_times::timed_sync;
use super::record::LogRecord;
use super::segment::{segment_name, sync_dir};
use super::{FsyncPolicy, WalError};

/// The open segment being appended to.
struct Current {
    file: File,
    path: PathBuf,
    len: u64,
}

/// Appends records to a shard's segments.
pub struct WalWriter {
    dir: PathBuf,
    policy: FsyncPolicy,
    segment_bytes: u64,
    current: Option<Current>,
    buf: Vec<u8>,
    group_first: Option<u64>,
    syncer: Option<Syncer>,
}

impl WalWriter {
    /// A writer that appends to `last` (the newest segment and its length), if any.
    pub fn new(
        dir: &Path,
        policy: FsyncPolicy,
        segment_bytes: u64,
        last: Option<(PathBuf, u64)>,
    ) -> Result<WalWriter, WalError> {
        let mut writer = WalWriter {
            dir: dir.to_path_buf(),
            policy,
            segment_bytes: segment_bytes.max(1),
            current: None,
            buf: Vec::with_capacity(1 << 16),
            group_first: None,
            syncer: None,
        };
        if let FsyncPolicy::Interval(period) = policy {
            writer.syncer = Some(Syncer::start(period));
        }
        if let Some((path, len)) = last {
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| WalError::io(&path, e))?;
            writer.set_current(Current { file, path, len })?;
        }
        Ok(writer)
    }

    /// Adds a record to the current group (nothing is written until [`commit`](Self::commit)).
    pub fn append(&mut self, record: &LogRecord) {
        self.group_first.get_or_insert(record.seq);
        record.encode(&mut self.buf);
    }

    /// Bytes appended but not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Writes the group with one write, then fsyncs as the policy says.
    ///
    /// NB: on a failure (a full disk, an I/O error) the segment is cut back to its length
    /// before the write and the group stays buffered, so the log never holds a torn group
    /// in its middle and the next commit retries the whole group.
    pub fn commit(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(syncer) = &self.syncer {
            syncer.take_error()?;
        }
        let roll = self
            .current
            .as_ref()
            .is_none_or(|c| c.len >= self.segment_bytes);
        if roll {
            self.roll(self.group_first.unwrap_or(0))?;
        }
        let Some(current) = self.current.as_mut() else {
            return Ok(());
        };
        let written = current
            .file
            .write_all(&self.buf)
            .map_err(|e| WalError::io(&current.path, e))
            .and_then(|()| match (&self.policy, &self.syncer) {
                (FsyncPolicy::Always, _) => {
                    timed_sync(&current.file).map_err(|e| WalError::io(&current.path, e))
                }
                (_, Some(syncer)) => syncer.after_write(&current.file, &current.path),
                _ => Ok(()),
            });
        if let Err(error) = written {
            let _ = current.file.set_len(current.len);
            return Err(error);
        }
        current.len += self.buf.len() as u64;
        self.buf.clear();
        self.group_first = None;
        Ok(())
    }

    /// Forces everything committed so far to disk, whatever the policy.
    pub fn sync(&mut self) -> Result<(), WalError> {
        match &self.current {
            Some(c) => timed_sync(&c.file).map_err(|e| WalError::io(&c.path, e)),
            None => Ok(()),
        }
    }

    /// Closes the current segment (synced unless the policy is `never`); the next commit
    /// opens a new one.
    pub fn close_segment(&mut self) -> Result<(), WalError> {
        if let Some(old) = self.current.take() {
            if self.policy != FsyncPolicy::Never {
                timed_sync(&old.file).map_err(|e| WalError::io(&old.path, e))?;
            }
            if let Some(syncer) = &self.syncer {
                syncer.set_file(None);
            }
        }
        Ok(())
    }

    fn roll(&mut self, first_seq: u64) -> Result<(), WalError> {
        self.close_segment()?;
        let path = self.dir.join(segment_name(first_seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| WalError::io(&path, e))?;
        let len = file.metadata().map_err(|e| WalError::io(&path, e))?.len();
        if self.policy != FsyncPolicy::Never {
            sync_dir(&self.dir)?;
        }
        self.set_current(Current { file, path, len })
    }

    fn set_current(&mut self, current: Current) -> Result<(), WalError> {
        if let Some(syncer) = &self.syncer {
            let clone = current
                .file
                .try_clone()
                .map_err(|e| WalError::io(&current.path, e))?;
            syncer.set_file(Some(clone));
        }
        self.current = Some(current);
        Ok(())
    }
}

impl Drop for WalWriter {
    fn drop(&mut self) {
        // A clean close leaves nothing unsynced under `interval`; errors were reported on
        // commit, and a drop has no one to report to.
        let _ = self.commit();
        if self.policy != FsyncPolicy::Never {
            let _ = self.sync();
        }
    }
}

struct SyncShared {
    file: Mutex<Option<File>>,
    dirty: AtomicBool,
    error: Mutex<Option<String>>,
    /// Nanoseconds after `epoch` of the last fsync, by the writer or the thread.
    last_sync: AtomicU64,
    epoch: Instant,
    period: Duration,
}

impl SyncShared {
    fn since_last_sync(&self) -> Duration {
        let last = Duration::from_nanos(self.last_sync.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(last)
    }

    fn record_sync(&self) {
        let now = self.epoch.elapsed().as_nanos();
        self.last_sync
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Release);
    }

    /// The thread's turn: fsync when something is unsynced and no fsync came for a period.
    fn sync_if_idle(&self) {
        if self.since_last_sync() < self.period || !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let Ok(file) = self.file.lock() else { return };
        if let Some(file) = file.as_ref() {
            match timed_sync(file) {
                Ok(()) => self.record_sync(),
                Err(e) => {
                    if let Ok(mut error) = self.error.lock() {
                        *error = Some(format!("background fsync failed: {e}"));
                    }
                }
            }
        }
    }

    /// How long the thread waits before looking again.
    fn next_check(&self) -> Duration {
        self.period
            .saturating_sub(self.since_last_sync())
            .max(Duration::from_millis(1))
    }
}

/// The fsync of `interval:<ms>`: inline on a busy writer, from a thread on an idle one.
struct Syncer {
    shared: Arc<SyncShared>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    fn start(period: Duration) -> Syncer {
        let shared = Arc::new(SyncShared {
            file: Mutex::new(None),
            dirty: AtomicBool::new(false),
            error: Mutex::new(None),
            last_sync: AtomicU64::new(0),
            epoch: Instant::now(),
            period,
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(state.next_check()) {
                state.sync_if_idle();
            }
        });
        Syncer {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// After a group was written: fsync now if a period passed since the last one, else
    /// leave it to the next commit or, if none comes, to the thread.
    fn after_write(&self, file: &File, path: &Path) -> Result<(), WalError> {
        let shared = &self.shared;
        if shared.since_last_sync() < shared.period {
            shared.dirty.store(true, Ordering::Release);
            return Ok(());
        }
        shared.dirty.store(false, Ordering::Release);
        timed_sync(file).map_err(|e| WalError::io(path, e))?;
        shared.record_sync();
        Ok(())
    }

    fn set_file(&self, file: Option<File>) {
        if let Ok(mut slot) = self.shared.file.lock() {
            *slot = file;
        }
    }

    fn take_error(&self) -> Result<(), WalError> {
        match self.shared.error.lock().ok().and_then(|mut e| e.take()) {
            Some(message) => Err(WalError::Sync(message)),
            None => Ok(()),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
