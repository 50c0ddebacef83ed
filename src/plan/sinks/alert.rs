//! The typed description of an alert (the dataflow file's `[[alerts]]` tables become this
//! at load time; see `dataflow_file::alerts`); raising it is `sinks::alert`.

use std::time::Duration;

use super::delivery::{BatchConfig, RetryConfig};
use super::template::Template;
use crate::expr::Expr;

/// How serious an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const NAMES: &[&str] = &["info", "warning", "critical"];

    pub fn parse(name: &str) -> Option<Severity> {
        match name {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where an alert goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertTarget {
    /// HTTP(S) POST of the alert's JSON, from a queue and thread of its own.
    Webhook(WebhookConfig),
    /// JSON Lines to the run's `<alert>.alerts` output.
    Log,
    /// One line per alert on stdout.
    Stdout,
}

/// A webhook target. The option names are the sync sinks' where they mean the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// PEM certificates of the CAs to trust instead of the bundled public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The longest a request may take, connecting to answering (`timeout_ms`).
    pub timeout: Duration,
    /// `max_retries`, `retry_delay_ms`, `retry_cap_ms`.
    pub retry: RetryConfig,
    /// Alerts waiting for this webhook (per worker) before the alert holds the dataflow back
    /// (`queue`).
    pub queue: usize,
}

impl WebhookConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_RETRY: RetryConfig = RetryConfig {
        max_retries: 3,
        delay: Duration::from_millis(100),
        cap: Duration::from_secs(5),
    };
    pub const DEFAULT_QUEUE: usize = 1024;
    /// The most alerts the delivery thread takes at once: a batch whose alert is given up
    /// after its retries goes to the dead-letter output whole (see `deliver`).
    pub const BATCH: usize = 64;

    /// The queue's batching: up to [`Self::BATCH`] alerts (no more than the queue holds),
    /// sent as soon as they are queued.
    pub fn batch(&self) -> BatchConfig {
        BatchConfig {
            size: Self::BATCH.min(self.queue).max(1),
            timeout: Duration::ZERO,
        }
    }
}

/// One alert rule over a pipeline's rows.
#[derive(Clone, Debug)]
pub struct AlertConfig {
    pub name: String,
    /// The pipeline it reads, and that pipeline's field names.
    pub pipeline: String,
    pub names: Vec<String>,
    pub condition: Expr,
    pub message: Template,
    pub severity: Severity,
    /// Fields whose values make the dedup group.
    pub group_fields: Vec<usize>,
    /// A group fires at most once per cooldown, in event time.
    pub cooldown_ms: u64,
    /// The field holding a row's event time (`None`: the batch's watermark).
    pub time_field: Option<usize>,
    pub targets: Vec<AlertTarget>,
}

impl AlertConfig {
    /// The alert's webhook targets, in the order of its `deliver` list.
    pub fn webhooks(&self) -> impl Iterator<Item = &WebhookConfig> {
        self.targets.iter().filter_map(|target| match target {
            AlertTarget::Webhook(hook) => Some(hook),
            _ => None,
        })
    }
}
