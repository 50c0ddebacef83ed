//! Damage tests on real log files: torn tails cut at every byte of the last record, a byte
//! flipped anywhere in a middle record (refuse with file and offset; repair counts the loss),
//! zero-filled tails, damage in a closed segment, and snapshots written and read back.

use std::fs;
use std::path::{Path, PathBuf};

use kvflow::change::Op;
use kvflow::store::snapshot::{list_snapshots, load_latest, read_snapshot, write_snapshot};
use kvflow::store::wal::segment::{list_segments, scan_segment};
use kvflow::store::wal::{FsyncPolicy, LogReader, LogRecord, Wal, WalError, WalOptions};
use kvflow::store::{ShardState, Stored};
use kvflow::value::Value;

fn record(seq: u64) -> LogRecord {
    LogRecord {
        seq,
        time: seq / 4 * 100,
        ts: 1_000 + seq * 10,
        max_seen: 1_000 + seq * 9,
        op: if seq % 5 == 4 { Op::Delete } else { Op::Put },
        key: format!("key_{}", seq % 7).into(),
        value: if seq % 5 == 4 {
            Value::Null
        } else {
            Value::parse_json(&format!(r#"{{"n":{seq},"tag":"t{seq}"}}"#)).unwrap()
        },
        origin: None,
    }
}

fn options(segment_bytes: u64) -> WalOptions {
    WalOptions {
        fsync: FsyncPolicy::Never,
        segment_bytes,
        repair: false,
    }
}

/// Writes records 0..n, one commit each, and returns the segment files.
fn write_log(dir: &Path, n: u64, segment_bytes: u64) -> Vec<PathBuf> {
    let (mut wal, _) = Wal::open(dir, &options(segment_bytes)).unwrap();
    for seq in 0..n {
        wal.append(&record(seq));
        wal.commit().unwrap();
    }
    drop(wal);
    list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// The byte offsets at which each record of a segment starts, and its length.
fn offsets(path: &Path) -> (Vec<u64>, u64) {
    let bytes = fs::read(path).unwrap();
    let mut starts = Vec::new();
    scan_segment(&bytes, true, |offset, _| starts.push(offset));
    (starts, bytes.len() as u64)
}

fn read_all(dir: &Path) -> Vec<LogRecord> {
    LogReader::open(dir, None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn expected(seqs: impl Iterator<Item = u64>) -> Vec<LogRecord> {
    seqs.map(record).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_cut_anywhere_in_the_last_record_drops_exactly_that_record() {
    let original = tempfile::tempdir().unwrap();
    let segments = write_log(original.path(), 12, 1 << 20);
    assert_eq!(segments.len(), 1);
    let (starts, end) = offsets(&segments[0]);
    let last = *starts.last().unwrap();
    for cut in last + 1..end {
        let work = tempfile::tempdir().unwrap();
        copy_dir(original.path(), work.path());
        let file = work.path().join(segments[0].file_name().unwrap());
        fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (wal, recovery) = Wal::open(work.path(), &options(1 << 20)).unwrap();
        let torn = recovery.torn.clone().expect("torn tail reported");
        assert_eq!(torn.bytes_dropped, cut - last, "cut at {cut}");
        assert_eq!(torn.offset, last);
        assert_eq!(torn.file, file);
        assert_eq!(recovery.records, 11);
        assert_eq!(wal.last_seq(), Some(10));
        assert!(recovery.warnings()[0].contains(&format!("{} bytes dropped", cut - last)));
        drop(wal);
        assert_eq!(fs::metadata(&file).unwrap().len(), last);
        assert_eq!(read_all(work.path()), expected(0..11), "cut at {cut}");
    }
}

#[test]
fn after_a_torn_tail_new_appends_follow_the_good_records() {
    let dir = tempfile::tempdir().unwrap();
    let segments = write_log(dir.path(), 5, 1 << 20);
    let (starts, _) = offsets(&segments[0]);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&segments[0])
        .unwrap();
    file.set_len(starts[4] + 3).unwrap();
    let (mut wal, recovery) = Wal::open(dir.path(), &options(1 << 20)).unwrap();
    assert_eq!(recovery.torn.map(|t| t.bytes_dropped), Some(3));
    for seq in 4..8 {
        wal.append(&record(seq));
    }
    wal.commit().unwrap();
    drop(wal);
    assert_eq!(read_all(dir.path()), expected(0..8));
}

#[test]
fn a_zero_filled_tail_is_torn_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let segments = write_log(dir.path(), 6, 1 << 20);
    let mut bytes = fs::read(&segments[0]).unwrap();
    bytes.extend(std::iter::repeat_n(0u8, 100));
    fs::write(&segments[0], bytes).unwrap();
    let (_, recovery) = Wal::open(dir.path(), &options(1 << 20)).unwrap();
    assert_eq!(recovery.torn.map(|t| t.bytes_dropped), Some(100));
    assert_eq!(read_all(dir.path()), expected(0..6));
}

#[test]
fn a_flipped_byte_in_a_middle_record_refuses_to_open_and_repair_counts_the_loss() {
    let original = tempfile::tempdir().unwrap();
    let n = 10;
    let segments = write_log(original.path(), n, 1 << 20);
    let (starts, _) = offsets(&segments[0]);
    let middle = 4usize;
    let (from, to) = (starts[middle], starts[middle + 1]);
    for at in from..to {
        let work = tempfile::tempdir().unwrap();
        copy_dir(original.path(), work.path());
        let file = work.path().join(segments[0].file_name().unwrap());
        let mut bytes = fs::read(&file).unwrap();
        bytes[at as usize] ^= 0x40;
        fs::write(&file, &bytes).unwrap();
        match Wal::open(work.path(), &options(1 << 20)) {
            Err(WalError::Corrupt {
                file: named,
                offset,
                ..
            }) => {
                assert_eq!(named, file.display().to_string());
                assert_eq!(offset, from, "flip at {at}");
            }
            Err(other) => panic!("flip at {at}: unexpected error {other}"),
            Ok(_) => panic!("flip at {at}: opened a corrupt log"),
        }
        let message = Wal::open(work.path(), &options(1 << 20))
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains(&format!("byte offset {from}")),
            "{message}"
        );
        let repair = WalOptions {
            repair: true,
            ..options(1 << 20)
        };
        let (_, recovery) = Wal::open(work.path(), &repair).unwrap();
        let repaired = recovery.repaired.expect("repair reported");
        assert_eq!(repaired.records_lost, n - middle as u64, "flip at {at}");
        assert_eq!(repaired.offset, from);
        assert_eq!(read_all(work.path()), expected(0..middle as u64));
    }
}

#[test]
fn corruption_in_a_closed_segment_is_never_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segments = write_log(dir.path(), 40, 300);
    assert!(segments.len() >= 3, "{} segments", segments.len());
    let first = &segments[0];
    let (starts, end) = offsets(first);
    // Cut the last record of a closed segment: that is damage, not a torn write.
    fs::OpenOptions::new()
        .write(true)
        .open(first)
        .unwrap()
        .set_len(end - 2)
        .unwrap();
    let error = Wal::open(dir.path(), &options(300)).err().expect("refused");
    assert!(
        matches!(&error, WalError::Corrupt { offset, .. } if *offset == *starts.last().unwrap())
    );
    let total_after: u64 = segments[1..]
        .iter()
        .map(|p| offsets(p).0.len() as u64)
        .sum();
    let repair = WalOptions {
        repair: true,
        ..options(300)
    };
    let (_, recovery) = Wal::open(dir.path(), &repair).unwrap();
    let kept = starts.len() as u64 - 1;
    assert_eq!(recovery.repaired.unwrap().records_lost, 1 + total_after);
    assert_eq!(read_all(dir.path()), expected(0..kept));
    assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
}

#[test]
fn readers_skip_segments_and_truncation_removes_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segments = write_log(dir.path(), 60, 400);
    assert!(segments.len() >= 4);
    let after: Vec<LogRecord> = LogReader::open(dir.path(), Some(33))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(after, expected(34..60));
    let (mut wal, _) = Wal::open(dir.path(), &options(400)).unwrap();
    assert_eq!(wal.truncate_from(25).unwrap(), 35);
    assert_eq!(wal.last_seq(), Some(24));
    wal.append(&record(25));
    wal.commit().unwrap();
    drop(wal);
    assert_eq!(read_all(dir.path()), expected(0..26));
}

#[test]
fn retention_removes_only_closed_segments_wholly_before_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 60, 400);
    let before = list_segments(dir.path()).unwrap();
    let (mut wal, _) = Wal::open(dir.path(), &options(400)).unwrap();
    let bound = before[2].0; // segments 0 and 1 hold only seqs < bound
    let removed_below = wal.remove_segments_through(bound - 1, |_| true).unwrap();
    assert_eq!(removed_below, Some(bound));
    assert_eq!(read_all(dir.path()), expected(bound..60));
    assert_eq!(wal.remove_segments_through(5, |_| true).unwrap(), None);
}

#[test]
fn fsync_policies_parse_with_clear_errors() {
    use std::time::Duration;
    assert_eq!(
        "always".parse::<FsyncPolicy>().unwrap(),
        FsyncPolicy::Always
    );
    assert_eq!("never".parse::<FsyncPolicy>().unwrap(), FsyncPolicy::Never);
    assert_eq!(
        "interval:25".parse::<FsyncPolicy>().unwrap(),
        FsyncPolicy::Interval(Duration::from_millis(25))
    );
    assert_eq!(FsyncPolicy::default().to_string(), "interval:10");
    for bad in ["sometimes", "interval:", "interval:0", "interval:x"] {
        let message = bad.parse::<FsyncPolicy>().unwrap_err().to_string();
        assert!(
            message.contains(bad) && message.contains("interval:<ms>"),
            "{message}"
        );
    }
}

#[test]
fn every_policy_reads_back_what_it_wrote() {
    for policy in ["always", "never", "interval:5"] {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            fsync: policy.parse().unwrap(),
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(dir.path(), &options).unwrap();
        for seq in 0..100 {
            wal.append(&record(seq));
            if seq % 10 == 9 {
                wal.commit().unwrap();
            }
        }
        drop(wal);
        assert_eq!(read_all(dir.path()), expected(0..100), "{policy}");
    }
}

#[test]
fn snapshots_round_trip_and_reject_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = ShardState::default();
    for seq in 0..50 {
        state.apply(record(seq).to_ingest());
    }
    let path = write_snapshot(dir.path(), 49, 1200, state.len(), state.iter()).unwrap();
    let snapshot = load_latest(dir.path(), None).unwrap().unwrap();
    assert_eq!((snapshot.seq, snapshot.time), (49, 1200));
    let mut restored = ShardState::default();
    for (key, stored) in snapshot.entries {
        restored.restore(key, stored);
    }
    let sorted = |s: &ShardState| {
        let mut v: Vec<(std::sync::Arc<str>, Stored)> =
            s.iter().map(|(k, v)| (k.clone(), v)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(sorted(&restored), sorted(&state));
    assert!(load_latest(dir.path(), Some(48)).unwrap().is_none());
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        read_snapshot(&path),
        Err(WalError::Snapshot { .. })
    ));
    fs::write(dir.path().join("snap-00000000000000000060.tmp"), b"half").unwrap();
    assert_eq!(list_snapshots(dir.path()).unwrap().len(), 1);
}
