//! Sync targets: one file per kind of store, each applying a batch of changes atomically
//! enough for its conflict policy and reconnecting lazily after a failure.

pub mod kvflow;
pub mod postgres;
pub mod redis;

use std::time::Duration;

use super::SyncOp;
use super::conflict::{Conflict, ConflictPolicy};
use crate::plan::sinks::TargetConfig;

/// A failed delivery or health check; the message names the target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// A store a sync sink writes to.
pub trait Target: Send {
    /// For logs and errors.
    fn describe(&self) -> String;
    /// Applies a batch with at most one change per key, returning the conflicts met.
    fn apply(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, TargetError>;
    /// Whether the target answers (PING, SELECT 1).
    fn check(&mut self) -> Result<(), TargetError>;
    /// Removes the tombstones of deletes made before event time `before`; how many went.
    /// Targets that keep no tombstones have none to purge.
    fn purge_tombstones(&mut self, _before: u64) -> Result<u64, TargetError> {
        Ok(0)
    }
}

/// Opens a target; connections are made on first use, so a target that is down at start is
/// retried like one that fails later. `conflict_log`: conflicts are logged, so targets read
/// the value they hold for each (else only the version).
pub fn open(config: &TargetConfig, timeout: Duration, conflict_log: bool) -> Box<dyn Target> {
    match config {
        TargetConfig::Redis {
            url,
            prefix,
            versions,
        } => Box::new(redis::RedisTarget::new(
            url,
            prefix,
            *versions,
            conflict_log,
            timeout,
        )),
        TargetConfig::Postgres { url, table } => {
            Box::new(postgres::PostgresTarget::new(url, table, timeout))
        }
        TargetConfig::Kvflow { url, prefix } => {
            Box::new(kvflow::KvflowTarget::new(url, prefix, timeout))
        }
    }
}
