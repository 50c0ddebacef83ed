//! Following one shard's log while a writer appends to it (`kvflow watch --follow`).
//!
//! [`LogTail`] reads the records a [`LogReader`](super::wal::LogReader) would, but
//! incrementally: it remembers the segment it is in and the byte offset of the next record,
//! and each [`poll`](LogTail::poll) reads only what was appended since. An incomplete record
//! at the end is a writer mid-append: the tail waits for the rest. When a newer segment
//! appears the writer has rolled over (it finishes a segment before it starts the next), so
//! the tail reads the old one to its end once more and moves on; a record still incomplete
//! there is corruption.
//!
//! A segment that shrinks or disappears under the tail was cut by the writer: a restarted
//! `run` removes the records past its checkpoint and logs them again, or retention removed
//! old segments. The tail then reopens the log after the last record it read; if retention
//! removed records it never read, that is an error naming the shard's floor.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::wal::WalError;
use super::wal::record::LogRecord;
use super::wal::segment::{ScanEnd, list_segments, scan_segment};

/// Bytes read from a segment per poll (more when one record is larger).
const READ_CHUNK: u64 = 4 << 20;

/// The segment a tail reads and where its next record starts.
#[derive(Clone, Debug)]
struct Position {
    first_seq: u64,
    path: PathBuf,
    offset: u64,
}

/// One shard's records with seq > `after`, read as they are logged.
pub struct LogTail {
    dir: PathBuf,
    /// Records with a seq up to this were read (or are before the start).
    after: Option<u64>,
    position: Option<Position>,
    records: std::vec::IntoIter<LogRecord>,
    /// The largest seq read from the log (returned or about to be).
    loaded: Option<u64>,
}

/// What one read of the current segment found.
enum Found {
    Records(Vec<LogRecord>),
    /// Nothing complete after the offset; `pending` bytes of an incomplete record wait.
    Nothing {
        pending: u64,
    },
    /// The segment is shorter than the offset, or gone: the writer cut the log.
    Cut,
}

impl LogTail {
    /// Follows the log in `dir` from after seq `after` (from its start with `None`).
    pub fn open(dir: &Path, after: Option<u64>) -> LogTail {
        LogTail {
            dir: dir.to_path_buf(),
            after,
            position: None,
            records: Vec::new().into_iter(),
            loaded: None,
        }
    }

    /// The largest seq read from the log so far: records up to it were logged before now.
    pub fn loaded_through(&self) -> Option<u64> {
        self.loaded
    }

    /// The next record logged so far, or `None` when the tail has read all there is now.
    pub fn poll(&mut self) -> Result<Option<LogRecord>, WalError> {
        loop {
            if let Some(record) = self.records.next() {
                self.after = self.after.max(Some(record.seq));
                return Ok(Some(record));
            }
            if !self.read_more()? {
                return Ok(None);
            }
        }
    }

    /// Loads the next records into `self.records`; false when none were logged yet.
    fn read_more(&mut self) -> Result<bool, WalError> {
        let Some(position) = self.position.clone() else {
            self.position = self.segment_after(None)?;
            return Ok(self.position.is_some());
        };
        match self.read(&position, false)? {
            Found::Records(records) => return Ok(self.take(records)),
            Found::Cut => return self.reopen(),
            Found::Nothing { .. } => {}
        }
        let Some(next) = self.segment_after(Some(position.first_seq))? else {
            return Ok(false);
        };
        // The writer rolled over, so `position`'s segment is complete: read it to its end.
        match self.read(&position, true)? {
            Found::Records(records) => Ok(self.take(records)),
            Found::Cut => self.reopen(),
            Found::Nothing { pending: 0 } => {
                self.position = Some(next);
                Ok(true)
            }
            Found::Nothing { .. } => Err(WalError::Corrupt {
                file: position.path.display().to_string(),
                offset: position.offset,
                reason: "incomplete record in a closed segment".into(),
            }),
        }
    }

    /// Keeps the records after `self.after`; true (there may be more to read) either way.
    fn take(&mut self, mut records: Vec<LogRecord>) -> bool {
        let after = self.after;
        records.retain(|record| after.is_none_or(|a| record.seq > a));
        self.loaded = self.loaded.max(records.last().map(|r| r.seq));
        self.records = records.into_iter();
        true
    }

    /// The segment to read after the one starting at `current` (the first to read with
    /// `None`: the one holding the first seq after `self.after`).
    fn segment_after(&self, current: Option<u64>) -> Result<Option<Position>, WalError> {
        let segments = list_segments(&self.dir)?;
        let index = match current {
            Some(first) => segments.iter().position(|(f, _)| *f > first),
            None => {
                let skip = self.after.map_or(0, |after| {
                    segments
                        .windows(2)
                        .take_while(|pair| pair[1].0 <= after.saturating_add(1))
                        .count()
                });
                (skip < segments.len()).then_some(skip)
            }
        };
        Ok(index.map(|i| Position {
            first_seq: segments[i].0,
            path: segments[i].1.clone(),
            offset: 0,
        }))
    }

    /// Reads the whole records after `position`'s offset (`to_end`: all of them, else at
    /// most about [`READ_CHUNK`] bytes), moving the offset past them.
    fn read(&mut self, position: &Position, to_end: bool) -> Result<Found, WalError> {
        let path = &position.path;
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Cut),
            Err(e) => return Err(WalError::io(path, e)),
        };
        let len = file.metadata().map_err(|e| WalError::io(path, e))?.len();
        if len < position.offset {
            return Ok(Found::Cut);
        }
        let available = len - position.offset;
        let mut want = if to_end {
            available
        } else {
            available.min(READ_CHUNK)
        };
        loop {
            let bytes = read_at(&mut file, path, position.offset, want)?;
            let mut records = Vec::new();
            let scan = scan_segment(&bytes, true, |_, record| records.push(record));
            if let ScanEnd::Corrupt { offset, reason } = scan.end {
                return Err(WalError::Corrupt {
                    file: path.display().to_string(),
                    offset: position.offset + offset,
                    reason,
                });
            }
            if !records.is_empty() {
                if let Some(current) = self.position.as_mut() {
                    current.offset += scan.good_len;
                }
                return Ok(Found::Records(records));
            }
            if want == available {
                return Ok(Found::Nothing { pending: want });
            }
            // NB: one record larger than a chunk: read everything there is.
            want = available;
        }
    }

    /// Starts again after the last record read, once the writer cut the log under the tail;
    /// an error if retention removed records the tail had not read.
    fn reopen(&mut self) -> Result<bool, WalError> {
        if let Some(floor) = read_floor(&self.dir)?
            && self.after.is_none_or(|after| after < floor)
        {
            return Err(WalError::Invalid(format!(
                "{}: retention removed the log up to seq {floor} while it was followed \
                 (the last seq read was {}): follow again from a newer token",
                self.dir.display(),
                self.after.map_or("none".to_string(), |a| a.to_string())
            )));
        }
        self.position = self.segment_after(None)?;
        Ok(self.position.is_some())
    }
}

/// Up to `len` bytes of `file` from `offset`.
fn read_at(
    file: &mut std::fs::File,
    path: &Path,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, WalError> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| WalError::io(path, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| WalError::io(path, e))?;
    Ok(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Op;
    use crate::store::wal::{FsyncPolicy, WalWriter};
    use crate::value::Value;

    fn record(seq: u64) -> LogRecord {
        LogRecord {
            seq,
            time: seq,
            ts: seq,
            max_seen: seq,
            op: Op::Put,
            key: format!("k{seq}").into(),
            value: Value::Int(seq as i64),
            origin: None,
        }
    }

    fn drain(tail: &mut LogTail) -> Vec<u64> {
        std::iter::from_fn(|| tail.poll().expect("poll"))
            .map(|r| r.seq)
            .collect()
    }

    #[test]
    fn a_tail_reads_what_is_appended_across_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut tail = LogTail::open(dir.path(), Some(1));
        assert_eq!(drain(&mut tail), Vec::<u64>::new(), "no log yet");
        // Segments of about two records each.
        let mut writer = WalWriter::new(dir.path(), FsyncPolicy::Never, 100, None).expect("wal");
        for seq in 0..3 {
            writer.append(&record(seq));
            writer.commit().expect("commit");
        }
        assert_eq!(drain(&mut tail), vec![2]);
        for seq in 3..9 {
            writer.append(&record(seq));
            writer.commit().expect("commit");
            if seq == 3 {
                assert_eq!(drain(&mut tail), vec![3]);
            }
        }
        assert!(list_segments(dir.path()).expect("segments").len() > 2);
        assert_eq!(drain(&mut tail), vec![4, 5, 6, 7, 8]);
    }

    #[test]
    fn a_half_written_record_waits_for_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = Vec::new();
        record(0).encode(&mut bytes);
        let whole = bytes.len();
        record(1).encode(&mut bytes);
        let path = dir.path().join(crate::store::wal::segment::segment_name(0));
        std::fs::write(&path, &bytes[..whole + 5]).expect("write");
        let mut tail = LogTail::open(dir.path(), None);
        assert_eq!(drain(&mut tail), vec![0]);
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(drain(&mut tail), vec![1]);
    }

    #[test]
    fn a_log_cut_under_the_tail_is_read_again_after_the_last_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = Vec::new();
        for seq in 0..4 {
            record(seq).encode(&mut bytes);
        }
        let path = dir.path().join(crate::store::wal::segment::segment_name(0));
        std::fs::write(&path, &bytes).expect("write");
        let mut tail = LogTail::open(dir.path(), None);
        assert_eq!(drain(&mut tail), vec![0, 1, 2, 3]);
        // A restart cuts back to seq 2 and logs 2.. again, with one record more.
        let mut again = Vec::new();
        for seq in 0..2 {
            record(seq).encode(&mut again);
        }
        std::fs::write(&path, &again).expect("write");
        assert_eq!(drain(&mut tail), Vec::<u64>::new());
        for seq in 2..5 {
            record(seq).encode(&mut again);
        }
        std::fs::write(&path, &again).expect("write");
        assert_eq!(drain(&mut tail), vec![4]);
    }
}
