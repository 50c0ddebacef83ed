//! `[[alerts]]` tables into [`AlertConfig`]s.
//!
//! ```toml
//! [[alerts]]
//! name = "big_spender"
//! from = "order_totals"               # a pipeline
//! condition = "total > 1500"          # an expression over its rows
//! message = "{user_id} ordered {total} in [{window_start}, {window_end})"
//! severity = "warning"                # info | warning (default) | critical
//! group_by = ["user_id"]              # dedup groups (default: the aggregate's group fields)
//! cooldown_ms = 60000                 # a group fires at most once per cooldown (event time)
//! time = "window_end"                 # the row's event time (default: window_end, then ts)
//! deliver = [
//!   { kind = "webhook", url = "http://127.0.0.1:8080/alerts" },
//!   { kind = "log" },                 # <name>.alerts output (JSON Lines)
//!   { kind = "stdout" },
//! ]
//! ```
//!
//! A webhook takes these options besides `url` (named as in `[[sync]]`, see `outputs.rs`):
//!
//! ```toml
//! { kind = "webhook", url = "https://alerts.example.com/hook",
//!   ca_file = "ca.pem",     # trust this CA instead of the public roots (https only)
//!   timeout_ms = 5000,      # the longest one request may take, connecting to answering
//!   max_retries = 3,        # then the alert goes to <name>.webhook-dead-letter (also `retries`)
//!   retry_delay_ms = 100,   # first backoff, doubling, with jitter ...
//!   retry_cap_ms = 5000,    # ... up to this
//!   queue = 1024 }          # alerts waiting per worker before the dataflow is held back
//! ```
//!
//! Each webhook delivers from its own queue and thread, so a slow or dead one delays neither
//! the run's other outputs nor other targets; an alert given up after its retries takes the
//! alerts queued behind it (up to 64) with it (see `sinks::alert::deliver`).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::Fail;
use super::spans::{file_name, inside, known_name};
use crate::expr::Expr;
use crate::plan::sinks::RetryConfig;
use crate::plan::sinks::Template;
use crate::plan::sinks::{AlertConfig, AlertTarget, Severity, WebhookConfig};
use crate::plan::{Node, PipelineDef, Plan};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlert {
    name: Spanned<String>,
    from: Spanned<String>,
    condition: Spanned<String>,
    message: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    group_by: Option<Vec<Spanned<String>>>,
    cooldown_ms: Option<u64>,
    time: Option<Spanned<String>>,
    deliver: Option<Vec<Spanned<RawDelivery>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDelivery {
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    timeout_ms: Option<u64>,
    /// `retries` is the older name.
    #[serde(alias = "retries")]
    max_retries: Option<u32>,
    retry_delay_ms: Option<u64>,
    retry_cap_ms: Option<u64>,
    queue: Option<Spanned<u64>>,
    /// PEM certificates of the CAs an `https` webhook's server certificate must chain to,
    /// instead of the bundled public roots (for an internal CA or a self-signed server).
    ca_file: Option<Spanned<String>>,
}

const DELIVERY_KINDS: &[&str] = &["webhook", "log", "stdout"];

pub(super) fn convert(
    raw: &Spanned<RawAlert>,
    plan: &Plan,
    base_dir: &Path,
) -> Result<AlertConfig, Fail> {
    let raw = raw.get_ref();
    // An alert's name names its `<name>.alerts` output file.
    file_name(raw.name.get_ref(), inside(&raw.name))?;
    let pipelines: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
    let index = known_name(&raw.from, &pipelines, "pipeline")?;
    let pipeline = &plan.pipelines[index];
    let names = pipeline.schema().names();
    let condition = Expr::compile(raw.condition.get_ref(), pipeline.schema()).map_err(|e| {
        Fail::at(inside(&raw.condition) + e.offset, e.message).suggest(e.suggestion)
    })?;
    let message = match &raw.message {
        Some(text) => Template::compile(text.get_ref(), &names).map_err(|e| {
            let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
            let suggestion = e.name.and_then(|n| crate::expr::suggest(&n, &candidates));
            Fail::at(inside(text) + e.offset, e.message).suggest(suggestion)
        })?,
        None => Template::compile(
            &raw.name.get_ref().replace('{', "{{").replace('}', "}}"),
            &names,
        )
        .map_err(|e| Fail::at(inside(&raw.name), e.message))?,
    };
    let severity = match &raw.severity {
        Some(s) => Severity::parse(s.get_ref()).ok_or_else(|| {
            Fail::at(inside(s), format!("unknown severity `{}`", s.get_ref()))
                .suggest(crate::expr::suggest(s.get_ref(), Severity::NAMES))
        })?,
        None => Severity::Warning,
    };
    let group_fields = match &raw.group_by {
        Some(fields) => fields
            .iter()
            .map(|f| known_name(f, &names, "field"))
            .collect::<Result<_, _>>()?,
        None => default_groups(pipeline),
    };
    let time_field = match &raw.time {
        Some(field) => Some(known_name(field, &names, "field")?),
        None => ["window_end", "ts"]
            .iter()
            .find_map(|n| names.iter().position(|f| f == n)),
    };
    let targets = match &raw.deliver {
        Some(list) => list
            .iter()
            .map(|t| target(t, base_dir))
            .collect::<Result<_, _>>()?,
        None => vec![AlertTarget::Log],
    };
    Ok(AlertConfig {
        name: raw.name.get_ref().clone(),
        pipeline: pipeline.name.clone(),
        names,
        condition,
        message,
        severity,
        group_fields,
        cooldown_ms: raw.cooldown_ms.unwrap_or(0),
        time_field,
        targets,
    })
}

/// The PEM text of `ca_file` (relative to the dataflow file), checked to hold a certificate.
fn read_ca_file(file: &Spanned<String>, base_dir: &Path) -> Result<Vec<u8>, Fail> {
    let path = base_dir.join(file.get_ref());
    let pem = std::fs::read(&path)
        .map_err(|e| Fail::at(inside(file), format!("cannot read {}: {e}", path.display())))?;
    let certificates = ureq::tls::parse_pem(&pem)
        .filter(|item| matches!(item, Ok(ureq::tls::PemItem::Certificate(_))))
        .count();
    if certificates == 0 {
        return Err(Fail::at(
            inside(file),
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(pem)
}

/// An aggregate's group fields (after its window fields, if windowed); none otherwise.
fn default_groups(pipeline: &PipelineDef) -> Vec<usize> {
    match &pipeline.node {
        Node::Aggregate {
            window, group_by, ..
        } => {
            let start = if window.is_some() { 2 } else { 0 };
            (start..start + group_by.len()).collect()
        }
        _ => Vec::new(),
    }
}

fn target(raw: &Spanned<RawDelivery>, base_dir: &Path) -> Result<AlertTarget, Fail> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    Ok(match raw.kind.get_ref().as_str() {
        "webhook" => AlertTarget::Webhook(webhook(raw, at, base_dir)?),
        "log" => AlertTarget::Log,
        "stdout" => AlertTarget::Stdout,
        other => {
            return Err(
                Fail::at(inside(&raw.kind), format!("unknown delivery `{other}`"))
                    .suggest(crate::expr::suggest(other, DELIVERY_KINDS)),
            );
        }
    })
}

/// A webhook target (the delivery table at `at`), its options defaulted.
fn webhook(raw: &RawDelivery, at: usize, base_dir: &Path) -> Result<WebhookConfig, Fail> {
    let url = raw
        .url
        .as_ref()
        .ok_or_else(|| Fail::at(at, "a webhook needs a `url`"))?;
    let https = url.get_ref().starts_with("https://");
    if !https && !url.get_ref().starts_with("http://") {
        return Err(Fail::at(
            inside(url),
            "a webhook `url` must start with http:// or https://",
        ));
    }
    let ca_pem = match &raw.ca_file {
        Some(file) if !https => {
            return Err(Fail::at(inside(file), "`ca_file` needs an https:// `url`"));
        }
        Some(file) => Some(read_ca_file(file, base_dir)?),
        None => None,
    };
    let queue = match &raw.queue {
        Some(n) if *n.get_ref() == 0 => {
            return Err(Fail::at(n.span().start, "`queue` must be positive"));
        }
        Some(n) => *n.get_ref() as usize,
        None => WebhookConfig::DEFAULT_QUEUE,
    };
    let ms = Duration::from_millis;
    let retry = WebhookConfig::DEFAULT_RETRY;
    Ok(WebhookConfig {
        url: url.get_ref().clone(),
        ca_pem,
        timeout: raw.timeout_ms.map_or(WebhookConfig::DEFAULT_TIMEOUT, ms),
        retry: RetryConfig {
            max_retries: raw.max_retries.unwrap_or(retry.max_retries),
            delay: raw.retry_delay_ms.map_or(retry.delay, ms),
            cap: raw.retry_cap_ms.map_or(retry.cap, ms),
        },
        queue,
    })
}
