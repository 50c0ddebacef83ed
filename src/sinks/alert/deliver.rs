//! Delivering fired alerts to a webhook: an HTTP or HTTPS POST of each alert's JSON, with a
//! timeout per request and retries with backoff, on the webhook's own queue thread (the
//! queue, backoff and dead letters of `sinks::delivery`, as sync sinks use them). What is
//! given up goes to `<alert>.webhook-dead-letter` and an error row to the pipeline's errors.
//!
//! Decision: retries are per alert, but an alert that used up its retries takes the alerts
//! queued behind it in its batch (at most `WebhookConfig::BATCH`) to the dead-letter output
//! with it, as a sync sink gives up a whole batch: the target is down, and trying each alert
//! through all its retries would make a webhook that never answers cost
//! `alerts × (max_retries + 1) × timeout` before the run could end. A success starts the
//! retries afresh, so a target that fails now and then loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::rule::AlertEvent;
use crate::plan::sinks::WebhookConfig;
use crate::sinks::delivery::dead_letter::{DeadLetters, error_row};
use crate::sinks::delivery::queue::Deliver;
use crate::sinks::delivery::retry::{Attempts, Backoff, RetryConfig};
use crate::value::write_json_string;

/// An alert's counters, shared by its workers and webhooks.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub fired: AtomicU64,
    pub suppressed: AtomicU64,
    /// Alerts a webhook accepted.
    pub delivered: AtomicU64,
    /// Failed requests to a webhook.
    pub webhook_failures: AtomicU64,
    pub retries: AtomicU64,
    /// Alerts a webhook was given up for (each a dead letter and an error row).
    pub undelivered: AtomicU64,
    /// Times a webhook's full queue held a completed time, and so the dataflow, back.
    pub backpressured: AtomicU64,
}

/// Sends one JSON body to a URL.
struct Webhook {
    agent: ureq::Agent,
    url: String,
}

impl Webhook {
    fn new(config: &WebhookConfig) -> Webhook {
        let mut agent = ureq::Agent::config_builder().timeout_global(Some(config.timeout));
        if let Some(pem) = &config.ca_pem {
            agent = agent.tls_config(trusting(pem));
        }
        Webhook {
            agent: ureq::Agent::new_with_config(agent.build()),
            url: config.url.clone(),
        }
    }

    fn post(&self, body: &str) -> Result<(), ureq::Error> {
        self.agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body)
            .map(drop)
    }
}

/// TLS that trusts only the CA certificates of `pem` (checked when the file was loaded).
fn trusting(pem: &[u8]) -> ureq::tls::TlsConfig {
    let certificates: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certificates)))
        .build()
}

/// Delivers one alert's events to one webhook, on the webhook's queue thread.
pub struct WebhookDelivery {
    name: String,
    hook: Webhook,
    retry: RetryConfig,
    seed: u64,
    dead_letters: DeadLetters,
    stats: Arc<AlertStats>,
}

impl WebhookDelivery {
    pub fn new(
        name: &str,
        config: &WebhookConfig,
        worker: usize,
        dead_letters: DeadLetters,
        stats: Arc<AlertStats>,
    ) -> WebhookDelivery {
        WebhookDelivery {
            name: name.to_string(),
            hook: Webhook::new(config),
            retry: config.retry,
            seed: worker as u64,
            dead_letters,
            stats,
        }
    }

    /// Writes `events` to the dead-letter output, each with an error row.
    fn give_up(&self, events: &[AlertEvent], error: &ureq::Error, retries: u32) {
        let error = format!("webhook {}: {error}", self.hook.url);
        let (mut lines, mut rows) = (String::new(), String::new());
        for event in events {
            self.write_dead_letter(event, &error, &mut lines);
            let message = format!("alert `{}` not delivered: {error}", self.name);
            error_row(&message, &format!(",\"alert\":{}", event.json), &mut rows);
        }
        let message = format!(
            "alert `{}`: {} alerts went to the dead-letter output after {retries} retries: {error}",
            self.name,
            events.len()
        );
        self.dead_letters.give_up(&lines, &rows, &message);
        self.stats
            .undelivered
            .fetch_add(events.len() as u64, Ordering::Relaxed);
    }

    /// The dead-letter line: the alert, the webhook, why, and the body to post again.
    fn write_dead_letter(&self, event: &AlertEvent, error: &str, out: &mut String) {
        out.push_str("{\"alert\":");
        write_json_string(&self.name, out);
        out.push_str(",\"url\":");
        write_json_string(&self.hook.url, out);
        out.push_str(",\"error\":");
        write_json_string(error, out);
        out.push_str(",\"body\":");
        out.push_str(&event.json);
        out.push_str("}\n");
    }
}

impl Deliver<AlertEvent> for WebhookDelivery {
    fn deliver(&mut self, batch: Vec<AlertEvent>) {
        self.seed = self.seed.wrapping_add(1);
        let mut backoff = Backoff::new(self.retry, self.seed);
        let counts = Attempts {
            failures: &self.stats.webhook_failures,
            retries: &self.stats.retries,
        };
        let what = format!("alert `{}`: webhook {}", self.name, self.hook.url);
        for (i, event) in batch.iter().enumerate() {
            match backoff.retry(&what, counts, || self.hook.post(&event.json)) {
                Ok(()) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    backoff.reset();
                }
                Err(error) => return self.give_up(&batch[i..], &error, backoff.retries()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sinks::capture::Capture;
    use crate::sinks::{OutputFactory, OutputKind};

    fn event(n: u32) -> AlertEvent {
        AlertEvent {
            json: format!("{{\"n\":{n}}}"),
            message: n.to_string(),
        }
    }

    /// An alert that used up its retries takes the rest of its batch to the dead letters,
    /// untried; each gets a dead letter and an error row.
    #[test]
    fn a_given_up_alert_takes_the_rest_of_its_batch_with_it() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        let config = WebhookConfig {
            url: format!("http://{closed}/"),
            ca_pem: None,
            timeout: Duration::from_secs(2),
            retry: RetryConfig {
                max_retries: 2,
                delay: Duration::ZERO,
                cap: Duration::ZERO,
            },
            queue: 8,
        };
        let capture = Capture::new();
        let dead_letters = DeadLetters {
            output: capture.open("a.webhook-dead-letter", OutputKind::Rows),
            errors: capture.open("p", OutputKind::Errors),
        };
        let stats = Arc::new(AlertStats::default());
        let mut delivery = WebhookDelivery::new("a", &config, 0, dead_letters, stats.clone());
        delivery.deliver((0..3).map(event).collect());
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(
            get(&stats.webhook_failures),
            3,
            "only the first alert is tried"
        );
        assert_eq!(get(&stats.retries), 2);
        assert_eq!(get(&stats.undelivered), 3);
        let dead: Vec<serde_json::Value> = capture
            .rows("a.webhook-dead-letter")
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON dead letter"))
            .collect();
        let ns: Vec<u64> = dead
            .iter()
            .map(|d| d["body"]["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, vec![0, 1, 2]);
        assert!(dead.iter().all(|d| d["url"] == config.url.as_str()));
        let errors = capture.sorted("p", OutputKind::Errors);
        assert_eq!(errors.len(), 3);
        assert!(errors.iter().all(|e| e.contains("alert `a` not delivered")));
    }
}
