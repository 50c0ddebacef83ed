//! Sync sinks: replicate a pipeline's changelog, or the store's live table, to Redis,
//! PostgreSQL or another kvflow node, so that the target equals the source.
//!
//! Layout: `config` (typed settings), `operator` (the timely side: per completed time, the
//! updates become at most one [`SyncOp`] per key), `conflict` (policies and the conflict
//! log), `health` (failover to a standby and back), `targets/` (one per store). The queue
//! and delivery thread (back-pressure, batching), the backoff and the dead letters are the
//! ones alert webhooks use too (`sinks::delivery`).
//!
//! Decisions:
//! - **One queue and thread per sink per worker.** Records are routed to workers by key, so
//!   each key's changes stay in order on one queue, and delivery scales with workers without
//!   any lock between them.
//! - **Delivery is idempotent per time**: a batch sets each key to its value at the end of
//!   a time, so a replay after a crash (durable runs suppress times the checkpoint covers,
//!   and a checkpoint first drains every queue) rewrites the same state, never a wrong one.
//! - **A failed batch never stops the dataflow**: after the retries it goes to
//!   `<sink>.dead-letter` and an error row to the pipeline's error output.

pub mod conflict;
pub mod health;
pub mod operator;
pub mod targets;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::plan::sinks::SyncConfig;
use crate::sinks::LineSink;
use crate::sinks::delivery::dead_letter::{DeadLetters, error_row};
use crate::sinks::delivery::queue;
use crate::sinks::delivery::retry::{Attempts, Backoff, RetryConfig};
use crate::value::write_json_string;
use conflict::{ConflictPolicy, ConflictRecorder};
use health::Failover;

pub use crate::plan::sinks::{SyncSource, TargetConfig};

/// One key's change as a target receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOp {
    pub key: String,
    /// The value's JSON text; `None` deletes the key.
    pub value: Option<String>,
    /// Event time of the change (ms).
    pub ts: u64,
    /// The node the change was first made on.
    pub origin: Arc<str>,
}

impl SyncOp {
    /// The dead-letter line: the change and why it was given up.
    pub fn write_dead_letter(&self, sink: &str, error: &str, out: &mut String) {
        out.push_str("{\"sink\":");
        write_json_string(sink, out);
        out.push_str(",\"key\":");
        write_json_string(&self.key, out);
        match &self.value {
            Some(value) => {
                out.push_str(",\"op\":\"upsert\",\"value\":");
                out.push_str(value);
            }
            None => out.push_str(",\"op\":\"delete\""),
        }
        out.push_str(&format!(",\"ts\":{},\"origin\":", self.ts));
        write_json_string(&self.origin, out);
        out.push_str(",\"error\":");
        write_json_string(error, out);
        out.push_str("}\n");
    }
}

/// A sync sink's counters, shared by its workers.
#[derive(Debug, Default)]
pub struct SyncStats {
    /// Changes the target accepted (including those a conflict policy kept out).
    pub delivered: AtomicU64,
    pub batches: AtomicU64,
    /// Failed attempts at a batch.
    pub failures: AtomicU64,
    pub retries: AtomicU64,
    /// Changes given up after `max_retries`.
    pub dead_lettered: AtomicU64,
    pub conflicts: Arc<AtomicU64>,
    pub failovers: AtomicU64,
    pub switchbacks: AtomicU64,
    /// Changes not sent because they came from the target node.
    pub skipped_echoes: AtomicU64,
    /// Delete tombstones purged from the target (`tombstone_retention_ms`).
    pub tombstones_purged: AtomicU64,
    /// Changes handed to the delivery thread and not yet written or given up.
    pub queued: Arc<AtomicU64>,
    /// Whether the last attempt at a batch failed (the target is unhealthy).
    pub failing: AtomicBool,
    /// Whether batches go to the standby target.
    pub on_standby: AtomicBool,
}

impl SyncStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Where a delivery thread reports what it could not deliver.
pub struct DeliveryOutputs {
    pub dead_letter: Arc<dyn LineSink>,
    pub errors: Arc<dyn LineSink>,
    pub conflicts: Option<Arc<dyn LineSink>>,
}

/// Delivers batches of one sink on its queue's thread.
pub struct SyncDelivery {
    name: String,
    failover: Failover,
    policy: ConflictPolicy,
    retry: RetryConfig,
    seed: u64,
    conflicts: ConflictRecorder,
    dead_letters: DeadLetters,
    stats: Arc<SyncStats>,
    tombstones: TombstonePurge,
}

/// When a sink purges old tombstones: every [`PURGE_EVERY`] and at the end of a run, those
/// older than its newest delivered change by the retention. (A Redis purge scans the whole
/// versions hash, so purges stay rare.)
struct TombstonePurge {
    retention: Option<u64>,
    newest_ts: u64,
    last: std::time::Instant,
}

const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl SyncDelivery {
    pub fn new(
        config: &SyncConfig,
        worker: usize,
        outputs: DeliveryOutputs,
        stats: Arc<SyncStats>,
    ) -> SyncDelivery {
        let timeout = config.health.timeout;
        let failover = Failover::new(
            targets::open(&config.target, timeout, config.conflict_log),
            config
                .standby
                .as_ref()
                .map(|s| targets::open(s, timeout, config.conflict_log)),
            config.health,
        );
        SyncDelivery {
            name: config.name.clone(),
            failover,
            policy: config.policy,
            retry: config.retry,
            seed: worker as u64,
            conflicts: ConflictRecorder {
                sink: config.name.clone(),
                count: stats.conflicts.clone(),
                log: outputs.conflicts,
            },
            dead_letters: DeadLetters {
                output: outputs.dead_letter,
                errors: outputs.errors,
            },
            stats,
            tombstones: TombstonePurge {
                retention: config.tombstone_retention,
                newest_ts: 0,
                last: std::time::Instant::now(),
            },
        }
    }

    /// Purges the target's tombstones older than the retention allows, when one is due (or
    /// now, with `force`). A failure is logged and tried again at the next purge.
    fn purge_tombstones(&mut self, force: bool) {
        let purge = &mut self.tombstones;
        let Some(retention) = purge.retention else {
            return;
        };
        if !force && purge.last.elapsed() < PURGE_EVERY {
            return;
        }
        purge.last = std::time::Instant::now();
        let before = purge.newest_ts.saturating_sub(retention);
        match self.failover.purge_tombstones(before) {
            Ok(n) => {
                self.stats.tombstones_purged.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("sync sink `{}`: {e}", self.name),
        }
    }

    fn dead_letter(&self, batch: &[SyncOp], error: &str, retries: u32) {
        let mut text = String::new();
        for op in batch {
            op.write_dead_letter(&self.name, error, &mut text);
        }
        let message = format!(
            "sync sink `{}`: {} changes went to the dead-letter output after {retries} retries: {error}",
            self.name,
            batch.len()
        );
        let mut fields = String::from(",\"sink\":");
        write_json_string(&self.name, &mut fields);
        fields.push_str(&format!(",\"changes\":{}", batch.len()));
        let mut row = String::new();
        error_row(&message, &fields, &mut row);
        self.dead_letters.give_up(&text, &row, &message);
        self.stats
            .dead_lettered
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
}

/// The last change of each key, in the order of their last changes.
pub fn last_per_key(batch: Vec<SyncOp>) -> Vec<SyncOp> {
    // NB: keys are borrowed, not cloned: this runs on every batch of the delivery thread.
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let mut keep: Vec<bool> = batch
            .iter()
            .rev()
            .map(|op| seen.insert(op.key.as_str()))
            .collect();
        keep.reverse();
        keep
    };
    if keep.iter().all(|k| *k) {
        return batch;
    }
    batch
        .into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect()
}

impl queue::Deliver<SyncOp> for SyncDelivery {
    fn finish(&mut self) {
        self.purge_tombstones(true);
        if self.failover.on_standby()
            && !self
                .failover
                .return_to_primary(self.policy, &self.stats, self.retry.max_retries)
        {
            tracing::warn!(
                "sync sink `{}`: the primary is still down at the end of the run; the standby \
                 {} holds changes it missed",
                self.name,
                self.failover.describe()
            );
        }
    }

    fn deliver(&mut self, batch: Vec<SyncOp>) {
        let batch = last_per_key(batch);
        self.seed = self.seed.wrapping_add(1);
        let mut backoff = Backoff::new(self.retry, self.seed);
        let counts = Attempts {
            failures: &self.stats.failures,
            retries: &self.stats.retries,
        };
        let applied = backoff.retry(&format_args!("sync sink `{}`", self.name), counts, || {
            self.failover.apply(&batch, self.policy, &self.stats)
        });
        let conflicts = match applied {
            Ok(conflicts) => conflicts,
            Err(error) => return self.dead_letter(&batch, &error.0, backoff.retries()),
        };
        if backoff.retries() > 0 {
            tracing::info!(
                "sync sink `{}`: delivered to {} after {} retries",
                self.name,
                self.failover.describe(),
                backoff.retries()
            );
        }
        self.conflicts.record(&conflicts);
        self.stats
            .delivered
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let newest = batch.iter().map(|op| op.ts).max().unwrap_or(0);
        self.tombstones.newest_ts = self.tombstones.newest_ts.max(newest);
        self.purge_tombstones(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_change_of_each_key_wins() {
        let op = |key: &str, value: Option<&str>| SyncOp {
            key: key.into(),
            value: value.map(str::to_string),
            ts: 0,
            origin: "a".into(),
        };
        let batch = vec![op("a", Some("1")), op("b", Some("2")), op("a", None)];
        assert_eq!(last_per_key(batch), vec![op("b", Some("2")), op("a", None)]);
    }

    #[test]
    fn dead_letters_are_json_lines() {
        let op = SyncOp {
            key: "k\"1".into(),
            value: Some(r#"{"n":1}"#.into()),
            ts: 5,
            origin: "a".into(),
        };
        let mut out = String::new();
        op.write_dead_letter("s", "refused", &mut out);
        let parsed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(parsed["key"], "k\"1");
        assert_eq!(parsed["value"]["n"], 1);
        assert_eq!(parsed["error"], "refused");
    }
}
