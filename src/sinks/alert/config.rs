//! The typed configuration of an alert (the dataflow file's `[[alerts]]` tables become this
//! at load time; see `spec::alerts`).

use std::time::Duration;

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
    /// HTTP(S) POST of the alert's JSON; `retries` more attempts after a failure.
    Webhook {
        url: String,
        /// PEM certificates of the CAs to trust instead of the bundled public roots.
        ca_pem: Option<Vec<u8>>,
        timeout: Duration,
        retries: u32,
        retry_delay: Duration,
    },
    /// JSON Lines to the run's `<alert>.alerts` output.
    Log,
    /// One line per alert on stdout.
    Stdout,
}

/// One alert rule over a pipeline's rows.
#[derive(Clone, Debug)]
pub struct AlertConfig {
    pub name: String,
    /// The pipeline's index in the plan, and its field names.
    pub pipeline: usize,
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
