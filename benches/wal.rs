//! WAL throughput and recovery.
//!
//! - `wal_puts/<policy>`: puts/s into one shard's log, groups of 1000 records per commit,
//!   beside `wal_puts/plain_append`, a `BufWriter` append of the very same frame bytes
//!   (encoded once beforehand) to a file: the limit the log can approach.
//! - `wal_recovery/1M`: opening (scanning and checking) a log of 1,000,000 records.
//!
//! Short runs: `cargo bench --bench wal -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kvflow::change::Op;
use kvflow::store::wal::{LogRecord, Wal, WalOptions};
use kvflow::value::Value;

const GROUP: usize = 1000;
const PER_ITER: usize = 10_000;

fn records(n: usize) -> Vec<LogRecord> {
    (0..n as u64)
        .map(|seq| LogRecord {
            seq,
            time: seq / 1000 * 100,
            ts: 1_700_000_000_000 + seq * 3,
            max_seen: 1_700_000_000_000 + seq * 3,
            op: Op::Put,
            key: format!("user_{}", seq % 10_000).into(),
            value: Value::parse_json(&format!(
                r#"{{"amount":{},"country":"de","name":"customer {}"}}"#,
                seq % 997,
                seq % 10_000
            ))
            .unwrap_or(Value::Null),
            origin: None,
        })
        .collect()
}

fn puts(c: &mut Criterion) {
    let batch = records(PER_ITER);
    let mut group = c.benchmark_group("wal_puts");
    group.throughput(Throughput::Elements(PER_ITER as u64));
    let mut bytes = Vec::new();
    for record in &batch {
        record.encode(&mut bytes);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::fs::File::create(dir.path().join("plain")).expect("create");
    let mut plain = std::io::BufWriter::with_capacity(1 << 16, file);
    let per_record = bytes.len() / PER_ITER;
    group.bench_function("plain_append", |b| {
        b.iter(|| {
            for record in bytes.chunks(per_record) {
                plain.write_all(black_box(record)).expect("write");
            }
        })
    });
    // Leave no dirty pages behind: ext4's ordered mode would flush them in the next fsync.
    plain.get_ref().sync_all().expect("sync");
    for policy in ["interval:10", "always", "never"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = WalOptions {
            fsync: policy.parse().expect("policy"),
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(dir.path(), &options).expect("open");
        group.bench_function(policy, |b| {
            b.iter(|| {
                for chunk in batch.chunks(GROUP) {
                    for record in chunk {
                        wal.append(record);
                    }
                    wal.commit().expect("commit");
                }
            })
        });
        wal.sync().expect("sync");
    }
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = WalOptions {
        fsync: "never".parse().expect("policy"),
        ..WalOptions::default()
    };
    {
        let (mut wal, _) = Wal::open(dir.path(), &options).expect("open");
        for chunk in records(1_000_000).chunks(GROUP) {
            for record in chunk {
                wal.append(record);
            }
            wal.commit().expect("commit");
        }
    }
    let mut group = c.benchmark_group("wal_recovery");
    group.sample_size(10);
    group.bench_function("1M", |b| {
        b.iter_batched(
            || (),
            |()| Wal::open(dir.path(), &options).expect("open").1.records,
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = puts, recovery
}
criterion_main!(benches);
