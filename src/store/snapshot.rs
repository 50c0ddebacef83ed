//! Shard snapshots: every live key with its value, ts, seq and max_seen, covering the log
//! through one seq. File `snap-<seq, 20 digits>.snap` in the shard's directory.
//!
//! Layout: frames as in the log ([`wal::record`](super::wal::record)). The first frame's
//! payload is the header — `KVSNAP1`, then the covered seq, the timely time of the last
//! covered record and the number of entries, each a u64 LE — and each following frame is one
//! entry, encoded as a logged put of the key (its own seq, ts and max_seen). Exactly `count`
//! entries and nothing after them: a short or padded file is rejected.
//!
//! Written atomically: a `.tmp` file, fsync, rename, fsync of the directory. A crash at any
//! point leaves either the old set of snapshots or the new one, plus maybe a `.tmp` that the
//! next open of the data directory removes.

use std::fs;
use std::path::{Path, PathBuf};

use super::shard::Stored;
use super::wal::WalError;
use super::wal::record::{Frame, HEADER_LEN, LogRecord, check_frame, encode_frame};
use super::wal::segment::{list_numbered, sync_dir, write_atomic};
use crate::change::Op;

const MAGIC: &[u8; 7] = b"KVSNAP1";

/// A loaded snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Covers every record with seq <= this.
    pub seq: u64,
    /// The timely time of the last covered record.
    pub time: u64,
    pub entries: Vec<(std::sync::Arc<str>, Stored)>,
}

fn snapshot_name(seq: u64) -> String {
    format!("snap-{seq:020}.snap")
}

/// The snapshots in `dir`, oldest first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    list_numbered(dir, "snap-", ".snap")
}

/// Writes a snapshot of `entries` covering seq `seq` atomically; returns its path.
pub fn write_snapshot<'a>(
    dir: &Path,
    seq: u64,
    time: u64,
    count: usize,
    entries: impl Iterator<Item = (&'a std::sync::Arc<str>, Stored)>,
) -> Result<PathBuf, WalError> {
    let path = dir.join(snapshot_name(seq));
    let mut bytes = Vec::with_capacity(64 + count * 64);
    let mut header = MAGIC.to_vec();
    for word in [seq, time, count as u64] {
        header.extend_from_slice(&word.to_le_bytes());
    }
    encode_frame(&header, &mut bytes);
    for (key, stored) in entries {
        let record = LogRecord {
            seq: stored.seq,
            time: 0,
            ts: stored.ts,
            max_seen: stored.max_seen,
            op: Op::Put,
            key: key.clone(),
            value: stored.value,
            origin: stored.origin,
        };
        record.encode(&mut bytes);
    }
    write_atomic(&path, &bytes, "snapshot")?;
    Ok(path)
}

/// The timely time of the last record a snapshot file covers, read from its header alone.
pub fn snapshot_time(path: &Path) -> Result<u64, WalError> {
    use std::io::Read;
    let mut head = vec![0u8; HEADER_LEN + MAGIC.len() + 24];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| WalError::io(path, e))?;
    let (_, time, _) =
        parse_header(Frames(&head).next_payload().ok()).ok_or_else(|| WalError::Snapshot {
            file: path.display().to_string(),
            reason: "not a kvflow snapshot".into(),
        })?;
    Ok(time)
}

/// `(seq, time, count)` of a header frame's payload.
fn parse_header(header: Option<&[u8]>) -> Option<(u64, u64, u64)> {
    let header = header?;
    if header.len() != MAGIC.len() + 24 || !header.starts_with(MAGIC) {
        return None;
    }
    let word = |i: usize| {
        let at = MAGIC.len() + 8 * i;
        let mut w = [0u8; 8];
        w.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(w)
    };
    Some((word(0), word(1), word(2)))
}

/// Reads and checks one snapshot file.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, WalError> {
    let bad = |reason: &str| WalError::Snapshot {
        file: path.display().to_string(),
        reason: reason.to_string(),
    };
    let bytes = fs::read(path).map_err(|e| WalError::io(path, e))?;
    let mut frames = Frames(&bytes);
    let header = frames.next_payload().map_err(|r| bad(&r))?;
    let (seq, time, count) =
        parse_header(Some(header)).ok_or_else(|| bad("not a kvflow snapshot"))?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let payload = frames.next_payload().map_err(|r| bad(&r))?;
        let record = LogRecord::decode(payload).map_err(|r| bad(&r))?;
        let stored = Stored {
            value: record.value,
            ts: record.ts,
            seq: record.seq,
            max_seen: record.max_seen,
            origin: record.origin,
        };
        entries.push((record.key, stored));
    }
    if !frames.0.is_empty() {
        return Err(bad("bytes after the last entry"));
    }
    Ok(Snapshot { seq, time, entries })
}

struct Frames<'a>(&'a [u8]);

impl<'a> Frames<'a> {
    fn next_payload(&mut self) -> Result<&'a [u8], String> {
        match check_frame(self.0) {
            Frame::Complete(len) => {
                let payload = &self.0[HEADER_LEN..HEADER_LEN + len];
                self.0 = &self.0[HEADER_LEN + len..];
                Ok(payload)
            }
            other => Err(format!("damaged frame ({other:?})")),
        }
    }
}

/// The newest snapshot covering at most seq `at_most` (any with `None`).
pub fn load_latest(dir: &Path, at_most: Option<u64>) -> Result<Option<Snapshot>, WalError> {
    let candidates = list_snapshots(dir)?;
    let newest = candidates
        .iter()
        .rev()
        .find(|(seq, _)| at_most.is_none_or(|m| *seq <= m));
    newest.map(|(_, path)| read_snapshot(path)).transpose()
}

/// Removes the `.tmp` files a crash left in a shard directory (call before writing to it:
/// a `.tmp` may be a snapshot or floor being written).
pub fn remove_leftovers(dir: &Path) -> Result<(), WalError> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
            }
        }
    }
    Ok(())
}

/// Removes the snapshots `remove` picks by seq.
pub fn remove_snapshots(dir: &Path, mut remove: impl FnMut(u64) -> bool) -> Result<(), WalError> {
    for (seq, path) in list_snapshots(dir)? {
        if remove(seq) {
            fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
        }
    }
    sync_dir(dir)
}
