//! The typed description of a sync sink (the dataflow file's `[[sync]]` tables become this
//! at load time; see `dataflow_file::outputs`); delivering it is `sinks::sync`.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

pub use super::delivery::{BatchConfig, RetryConfig};

/// One sync sink: what it reads, where it writes, and how.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub name: String,
    pub source: SyncSource,
    pub target: TargetConfig,
    /// Written to while the primary target fails its health checks.
    pub standby: Option<TargetConfig>,
    pub policy: ConflictPolicy,
    /// Write each conflict (both versions) to `<sink>.conflicts` output.
    pub conflict_log: bool,
    /// This node's id: the origin of the changes it makes.
    pub origin: Arc<str>,
    /// The target node's id: changes that came from it are never sent back.
    pub target_origin: Option<Arc<str>>,
    pub batch: BatchConfig,
    /// Records the queue holds before the dataflow is back-pressured.
    pub queue: usize,
    /// Delete tombstones older (in event time) than the newest delivered change by this many
    /// ms are purged from the target; `None` keeps them.
    pub tombstone_retention: Option<u64>,
    pub retry: RetryConfig,
    pub health: HealthConfig,
}

/// What a sync sink replicates.
#[derive(Clone, Debug)]
pub enum SyncSource {
    /// A pipeline's changelog: each row under the key made of `key_fields`.
    Pipeline {
        /// The pipeline's name.
        pipeline: String,
        names: Vec<String>,
        key_fields: Vec<usize>,
        /// A field holding the row's event time, if the pipeline has one.
        ts_field: Option<usize>,
    },
    /// The store's live table, keys matching any of the patterns (all keys if none).
    Table { keys: Vec<Regex> },
}

/// A sync target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetConfig {
    /// A Redis server: each key is `prefix + key`, holding the value's JSON text; versions
    /// `(ts, origin)` live in the hash `prefix + "__kvflow_versions"`.
    Redis {
        url: String,
        prefix: String,
        versions: bool,
    },
    /// A PostgreSQL table (created if missing): key text primary key, value jsonb, ts, origin,
    /// deleted (a tombstone keeps a delete's version); readers query the view `<table>_live`.
    Postgres { url: String, table: String },
    /// Another kvflow node, over its Redis-protocol port: plain SET / DEL.
    Kvflow { url: String, prefix: String },
}

impl TargetConfig {
    /// A short description for logs and errors (no credentials).
    pub fn describe(&self) -> String {
        match self {
            TargetConfig::Redis { url, prefix, .. } => {
                format!("redis {} prefix {prefix:?}", strip_credentials(url))
            }
            TargetConfig::Postgres { url, table } => {
                format!("postgres {} table {table}", strip_credentials(url))
            }
            TargetConfig::Kvflow { url, prefix } => {
                format!("kvflow {} prefix {prefix:?}", strip_credentials(url))
            }
        }
    }
}

fn strip_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url
            .split_whitespace()
            .filter(|part| !part.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Health checks of the primary target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// How often a failed-over sink checks whether the primary is back.
    pub interval: Duration,
    /// Consecutive failures after which the sink switches to the standby.
    pub failures: u32,
    /// Connect, read and write timeout of a target's connection.
    pub timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_millis(500),
            failures: 3,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Who wins a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictPolicy {
    LastWriterWins,
    SourceWins,
    TargetWins,
}

impl ConflictPolicy {
    pub const NAMES: &[&str] = &["last-writer-wins", "source-wins", "target-wins"];

    pub fn parse(name: &str) -> Option<ConflictPolicy> {
        match name {
            "last-writer-wins" => Some(ConflictPolicy::LastWriterWins),
            "source-wins" => Some(ConflictPolicy::SourceWins),
            "target-wins" => Some(ConflictPolicy::TargetWins),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ConflictPolicy::LastWriterWins => "last-writer-wins",
            ConflictPolicy::SourceWins => "source-wins",
            ConflictPolicy::TargetWins => "target-wins",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_hide_passwords() {
        let redis = TargetConfig::Redis {
            url: "redis://user:secret@127.0.0.1:6379/0".into(),
            prefix: "p:".into(),
            versions: true,
        };
        assert!(!redis.describe().contains("secret"));
        let pg = TargetConfig::Postgres {
            url: "host=127.0.0.1 password=secret dbname=test".into(),
            table: "t".into(),
        };
        assert_eq!(pg.describe(), "postgres host=127.0.0.1 dbname=test table t");
    }
}
