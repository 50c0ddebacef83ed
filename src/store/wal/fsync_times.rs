//! How long the logs' fsyncs take: a process-wide histogram every log writer reports to (the
//! inline fsyncs of `always` and `interval:<ms>`, the background ones, and a segment's
//! closing), served as `kvflow_wal_fsync_seconds` with `--metrics`. Observing costs a lock
//! per fsync, which is nothing beside the fsync itself.

use std::fs::File;
use std::sync::LazyLock;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

/// From 50 µs to 2.5 s: a fast SSD's fsync to a stalled disk's.
const BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

static FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(BUCKETS));

/// The histogram of this process's fsyncs of log segments.
pub fn fsync_histogram() -> Histogram {
    FSYNC_SECONDS.clone()
}

/// `file.sync_data()`, timed into the histogram.
pub fn timed_sync(file: &File) -> std::io::Result<()> {
    let start = Instant::now();
    let synced = file.sync_data();
    FSYNC_SECONDS.observe(start.elapsed().as_secs_f64());
    synced
}
