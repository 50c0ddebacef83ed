//! A data directory's figures as Prometheus metrics: the bytes of each shard's log, each
//! shard's retention floor, the age of the last checkpoint (all read from the directory at
//! each scrape, so the logging path pays nothing) and the histogram of the logs' fsyncs.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};

use super::collect::{Fmt, gauge, per_shard};
use crate::runtime::durable::checkpoint::checkpoint_path;
use crate::store::data_dir::{count_shards, shard_dir};
use crate::store::log_tail::read_floor;
use crate::store::wal::fsync_times::fsync_histogram;

/// Reads a data directory at each scrape.
#[derive(Debug)]
pub struct DurabilityCollector {
    root: PathBuf,
}

impl DurabilityCollector {
    pub fn new(root: &Path) -> DurabilityCollector {
        DurabilityCollector {
            root: root.to_path_buf(),
        }
    }
}

impl Collector for DurabilityCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        let shards: Vec<usize> = (0..count_shards(&self.root)).collect();
        let log_bytes: Vec<(usize, i64)> = shards
            .iter()
            .map(|&k| (k, log_bytes(&shard_dir(&self.root, k))))
            .collect();
        per_shard(
            &mut encoder,
            ("kvflow_wal_bytes", "Bytes of a shard's log on disk."),
            &log_bytes,
        )?;
        let floors: Vec<(usize, i64)> = shards
            .iter()
            .filter_map(|&k| {
                let floor = read_floor(&shard_dir(&self.root, k)).ok().flatten()?;
                Some((k, i64::try_from(floor).unwrap_or(i64::MAX)))
            })
            .collect();
        per_shard(
            &mut encoder,
            (
                "kvflow_wal_retention_floor_seq",
                "The seq through which retention cut a shard's log.",
            ),
            &floors,
        )?;
        if let Some(age) = checkpoint_age(&self.root) {
            gauge(
                &mut encoder,
                "kvflow_checkpoint_age_seconds",
                "Seconds since the last checkpoint was written.",
                age,
            )?;
        }
        let histogram = fsync_histogram();
        histogram.encode(encoder.encode_descriptor(
            "kvflow_wal_fsync_seconds",
            "Time an fsync of a log segment took.",
            None,
            histogram.metric_type(),
        )?)
    }
}

/// The bytes of a shard's log segments (`wal-*.log`).
fn log_bytes(shard: &Path) -> i64 {
    let Ok(entries) = std::fs::read_dir(shard) else {
        return 0;
    };
    let bytes: u64 = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("wal-") && n.ends_with(".log"))
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Seconds since the checkpoint file was last written, if there is one.
fn checkpoint_age(root: &Path) -> Option<f64> {
    let written = std::fs::metadata(checkpoint_path(root))
        .ok()?
        .modified()
        .ok()?;
    let age = SystemTime::now()
        .duration_since(written)
        .unwrap_or_default();
    Some(age.as_secs_f64())
}
