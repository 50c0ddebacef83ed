//! Reading a shard's log: recovery on open (torn tail, corruption, repair), truncation past
//! a checkpoint, and [`LogReader`], which yields records in seq order and changes nothing.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::WalError;
use super::record::LogRecord;
use super::segment::{
    ScanEnd, count_records_after, list_segments, read_file, scan_segment, sync_dir,
};

/// A torn tail that recovery truncated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// Where the log now ends.
    pub offset: u64,
    pub bytes_dropped: u64,
}

/// A corrupt record that `repair` truncated at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: String,
    /// The bad record and every good record found after it (in later segments too).
    pub records_lost: u64,
}

/// What opening a log found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub segments: usize,
    /// Good records kept.
    pub records: u64,
    pub last_seq: Option<u64>,
    pub torn: Option<TornTail>,
    pub repaired: Option<Repair>,
}

impl Recovery {
    /// One line per thing an operator should know about.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = &self.torn {
            out.push(format!(
                "{}: torn tail truncated at byte offset {}: {} bytes dropped",
                t.file.display(),
                t.offset,
                t.bytes_dropped
            ));
        }
        if let Some(r) = &self.repaired {
            out.push(format!(
                "{}: repaired: truncated at byte offset {} ({}); {} records lost",
                r.file.display(),
                r.offset,
                r.reason,
                r.records_lost
            ));
        }
        out
    }
}

fn truncate_file(path: &Path, len: u64) -> Result<(), WalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| WalError::io(path, e))?;
    file.set_len(len).map_err(|e| WalError::io(path, e))?;
    file.sync_all().map_err(|e| WalError::io(path, e))
}

/// Scans every segment of `dir`, truncating a torn tail, and with `repair` a corrupt record.
pub fn recover(dir: &Path, repair: bool) -> Result<Recovery, WalError> {
    let segments = list_segments(dir)?;
    let mut recovery = Recovery {
        segments: segments.len(),
        ..Recovery::default()
    };
    for (index, (_, path)) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        let bytes = read_file(path)?;
        let scan = scan_segment(&bytes, is_last, |_, _| {});
        recovery.records += scan.records;
        recovery.last_seq = scan.last_seq.or(recovery.last_seq);
        match scan.end {
            ScanEnd::Clean => {}
            ScanEnd::Torn { bytes } => {
                truncate_file(path, scan.good_len)?;
                recovery.torn = Some(TornTail {
                    file: path.clone(),
                    offset: scan.good_len,
                    bytes_dropped: bytes,
                });
            }
            ScanEnd::Corrupt { offset, reason } if !repair => {
                return Err(WalError::Corrupt {
                    file: path.display().to_string(),
                    offset,
                    reason,
                });
            }
            ScanEnd::Corrupt { offset, reason } => {
                let mut lost = 1 + count_records_after(&bytes, offset as usize);
                for (_, later) in &segments[index + 1..] {
                    let bytes = read_file(later)?;
                    lost += scan_segment(&bytes, true, |_, _| {}).records;
                    std::fs::remove_file(later).map_err(|e| WalError::io(later, e))?;
                }
                truncate_file(path, offset)?;
                sync_dir(dir)?;
                recovery.segments = index + 1;
                recovery.repaired = Some(Repair {
                    file: path.clone(),
                    offset,
                    reason,
                    records_lost: lost,
                });
                break;
            }
        }
    }
    Ok(recovery)
}

/// Removes every record with seq >= `seq` from the log in `dir` (already recovered).
pub fn truncate_from(dir: &Path, seq: u64) -> Result<u64, WalError> {
    let mut removed = 0;
    for (first, path) in list_segments(dir)? {
        let bytes = read_file(&path)?;
        let mut cut = None;
        let scan = scan_segment(&bytes, true, |offset, record| {
            if record.seq >= seq {
                removed += 1;
                cut.get_or_insert(offset);
            }
        });
        if first >= seq && scan.first_seq.is_none_or(|f| f >= seq) {
            std::fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
        } else if let Some(offset) = cut {
            truncate_file(&path, offset)?;
        }
    }
    sync_dir(dir)?;
    Ok(removed)
}

/// Reads the records of a log in seq order, from after a given seq. Read-only: an
/// incomplete record at the very end (a writer mid-append, or a torn tail) ends the read.
pub struct LogReader {
    segments: Vec<(u64, PathBuf)>,
    next_segment: usize,
    after: Option<u64>,
    records: std::vec::IntoIter<LogRecord>,
    /// Adds the bytes of the records read (see [`Self::counting_into`]).
    loaded: Option<Arc<AtomicU64>>,
    /// The bytes of the segment being read, its records and how many were taken.
    segment_share: (u64, u64, u64),
}

impl LogReader {
    /// Records with seq > `after` (all of them with `None`).
    pub fn open(dir: &Path, after: Option<u64>) -> Result<LogReader, WalError> {
        let segments = list_segments(dir)?;
        // Segment i holds seqs below the next segment's first: skip those wholly <= after.
        let skip = match after {
            Some(after) => segments
                .windows(2)
                .take_while(|pair| pair[1].0 <= after.saturating_add(1))
                .count(),
            None => 0,
        };
        Ok(LogReader {
            segments,
            next_segment: skip,
            after,
            records: Vec::new().into_iter(),
            loaded: None,
            segment_share: (0, 0, 0),
        })
    }

    /// The reader, adding to `loaded` the bytes of the records it reads: a segment is read
    /// whole, so each of its records counts an equal share of its bytes.
    pub fn counting_into(mut self, loaded: Arc<AtomicU64>) -> LogReader {
        self.loaded = Some(loaded);
        self
    }

    /// The bytes of the segments this reader has left to read.
    pub fn bytes_left(&self) -> u64 {
        let size = |path: &PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
        self.segments[self.next_segment..]
            .iter()
            .map(|(_, path)| size(path))
            .sum()
    }

    /// The seq of the last record (reads everything that is left).
    pub fn last_seq(self) -> Result<Option<u64>, WalError> {
        let mut last = None;
        for record in self {
            last = Some(record?.seq);
        }
        Ok(last)
    }

    fn load_next_segment(&mut self) -> Result<bool, WalError> {
        let Some((_, path)) = self.segments.get(self.next_segment) else {
            return Ok(false);
        };
        let is_last = self.next_segment + 1 == self.segments.len();
        self.next_segment += 1;
        let bytes = read_file(path)?;
        let mut records = Vec::new();
        let after = self.after;
        let scan = scan_segment(&bytes, is_last, |_, record| {
            if after.is_none_or(|a| record.seq > a) {
                records.push(record);
            }
        });
        if let ScanEnd::Corrupt { offset, reason } = scan.end {
            return Err(WalError::Corrupt {
                file: path.display().to_string(),
                offset,
                reason,
            });
        }
        self.segment_share = (bytes.len() as u64, records.len() as u64, 0);
        if let (Some(loaded), true) = (&self.loaded, records.is_empty()) {
            loaded.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        self.records = records.into_iter();
        Ok(true)
    }
}

impl LogReader {
    /// Counts one more record of the segment taken (see [`Self::counting_into`]).
    fn count_taken(&mut self) {
        let (Some(loaded), (bytes, records, taken)) = (&self.loaded, &mut self.segment_share)
        else {
            return;
        };
        let share = |taken: u64| *bytes * taken / (*records).max(1);
        let before = share(*taken);
        *taken += 1;
        loaded.fetch_add(share(*taken) - before, Ordering::Relaxed);
    }
}

impl Iterator for LogReader {
    type Item = Result<LogRecord, WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.records.next() {
                self.count_taken();
                return Some(Ok(record));
            }
            match self.load_next_segment() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => {
                    self.next_segment = self.segments.len();
                    return Some(Err(e));
                }
            }
        }
    }
}
