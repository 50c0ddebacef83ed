//! Segment files: their names, listing them in order, and scanning one for damage.
//!
//! A shard's log is a series of files `wal-<first seq, 20 digits>.log` in the shard's
//! directory; the name gives the seq of the segment's first record, so a reader that wants
//! the records after some seq skips whole segments without opening them, and sorting the
//! names sorts the segments.

use std::fs;
use std::path::{Path, PathBuf};

use super::WalError;
use super::record::{Frame, HEADER_LEN, LogRecord, check_frame};

const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";

/// A segment's file name for its first record's seq.
pub fn segment_name(first_seq: u64) -> String {
    format!("{PREFIX}{first_seq:020}{SUFFIX}")
}

/// The segments of `dir`, ordered by first seq. A missing directory has none.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    list_numbered(dir, PREFIX, SUFFIX)
}

/// Files `<prefix><number><suffix>` in `dir`, ordered by number. A missing directory has none.
pub fn list_numbered(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WalError::io(dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok());
        if let Some(number) = number {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Makes a directory's entries (created, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), WalError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| WalError::io(dir, e))
}

/// Writes `bytes` to `path` atomically: a `.tmp` beside it, fsync, rename, directory fsync.
/// The crash point `point` (see `store::faults`) sits half-way through the write.
pub fn write_atomic(path: &Path, bytes: &[u8], point: &str) -> Result<(), WalError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(|e| WalError::io(&tmp, e))?;
    let half = bytes.len() / 2;
    file.write_all(&bytes[..half])
        .map_err(|e| WalError::io(&tmp, e))?;
    crate::store::faults::crash_point(point);
    file.write_all(&bytes[half..])
        .and_then(|()| file.sync_all())
        .map_err(|e| WalError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| WalError::io(path, e))?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, WalError> {
    fs::read(path).map_err(|e| WalError::io(path, e))
}

/// How a segment's scan ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every byte belongs to a good record.
    Clean,
    /// The last record is incomplete or fails its checksum: `bytes` after the good ones.
    Torn { bytes: u64 },
    /// A bad record that is not the tail, at `offset`.
    Corrupt { offset: u64, reason: String },
}

/// The outcome of scanning one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    /// Length of the prefix made of good records.
    pub good_len: u64,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub end: ScanEnd,
}

/// Scans the frames of a segment, handing each good record to `on_record` with its offset.
/// `is_last` says whether damage at the end may be a torn write (only in the last segment:
/// earlier ones were complete and synced before the next one began).
pub fn scan_segment(
    bytes: &[u8],
    is_last: bool,
    mut on_record: impl FnMut(u64, LogRecord),
) -> SegmentScan {
    let mut scan = SegmentScan {
        good_len: 0,
        records: 0,
        first_seq: None,
        last_seq: None,
        end: ScanEnd::Clean,
    };
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let torn = ScanEnd::Torn {
            bytes: rest.len() as u64,
        };
        let corrupt = |reason: &str| ScanEnd::Corrupt {
            offset: offset as u64,
            reason: reason.to_string(),
        };
        let len = match check_frame(rest) {
            Frame::Complete(len) => len,
            Frame::Incomplete if is_last => {
                scan.end = torn;
                break;
            }
            Frame::Incomplete => {
                scan.end = corrupt("incomplete record in a closed segment");
                break;
            }
            Frame::BadHeader if is_last && rest.iter().all(|b| *b == 0) => {
                scan.end = torn;
                break;
            }
            Frame::BadHeader => {
                scan.end = corrupt("record header checksum mismatch");
                break;
            }
            Frame::BadPayload(len) if is_last && HEADER_LEN + len == rest.len() => {
                scan.end = torn;
                break;
            }
            Frame::BadPayload(_) => {
                scan.end = corrupt("record payload checksum mismatch");
                break;
            }
        };
        match LogRecord::decode(&rest[HEADER_LEN..HEADER_LEN + len]) {
            Ok(record) => {
                scan.first_seq.get_or_insert(record.seq);
                scan.last_seq = Some(record.seq);
                scan.records += 1;
                on_record(offset as u64, record);
            }
            Err(reason) => {
                scan.end = corrupt(&reason);
                break;
            }
        }
        offset += HEADER_LEN + len;
        scan.good_len = offset as u64;
    }
    scan
}

/// How many good records can still be found after a corrupt one at `offset` (each later
/// position is tried until a whole valid frame starts there): what `repair` loses.
pub fn count_records_after(bytes: &[u8], offset: usize) -> u64 {
    let mut count = 0;
    let mut at = offset + 1;
    while at + HEADER_LEN <= bytes.len() {
        match check_frame(&bytes[at..]) {
            Frame::Complete(len) if LogRecord::decode(&bytes[at + HEADER_LEN..][..len]).is_ok() => {
                count += 1;
                at += HEADER_LEN + len;
            }
            _ => at += 1,
        }
    }
    count
}
