//! Delivering fired alerts: webhook (HTTP or HTTPS POST of the alert's JSON, with a timeout and
//! retries), the `<alert>.alerts` JSON Lines output, stdout. Runs on the alert's queue
//! thread (see `sinks::delivery::queue`), so a slow webhook never blocks a worker; a webhook that still
//! fails after its retries writes an error row to the pipeline's error output.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::config::AlertTarget;
use super::rule::AlertEvent;
use crate::sinks::LineSink;
use crate::sinks::delivery::queue::Deliver;
use crate::value::write_json_string;

/// An alert's counters, shared by its workers.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub fired: AtomicU64,
    pub suppressed: AtomicU64,
    pub webhook_failures: AtomicU64,
    pub undelivered: AtomicU64,
}

/// Sends one JSON body to a URL.
struct Webhook {
    agent: ureq::Agent,
    url: String,
    retries: u32,
    retry_delay: Duration,
}

impl Webhook {
    fn new(
        url: &str,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
        (retries, retry_delay): (u32, Duration),
    ) -> Webhook {
        let mut config = ureq::Agent::config_builder().timeout_global(Some(timeout));
        if let Some(pem) = ca_pem {
            config = config.tls_config(trusting(pem));
        }
        let config = config.build();
        Webhook {
            agent: ureq::Agent::new_with_config(config),
            url: url.to_string(),
            retries,
            retry_delay,
        }
    }

    /// Posts `body`, retrying with doubling waits; the last error if every attempt failed.
    fn post(&self, body: &str, failures: &AtomicU64) -> Result<(), String> {
        let mut wait = self.retry_delay;
        let mut attempt = 0;
        loop {
            let sent = self
                .agent
                .post(&self.url)
                .header("content-type", "application/json")
                .send(body);
            match sent {
                Ok(_) => return Ok(()),
                Err(e) => {
                    failures.fetch_add(1, Ordering::Relaxed);
                    if attempt >= self.retries {
                        return Err(format!("webhook {}: {e}", self.url));
                    }
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
            }
        }
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

enum Sender {
    Webhook(Webhook),
    Log(Arc<dyn LineSink>),
    Stdout,
}

/// Delivers one alert's events to each of its targets.
pub struct AlertDelivery {
    name: String,
    senders: Vec<Sender>,
    errors: Arc<dyn LineSink>,
    stats: Arc<AlertStats>,
}

impl AlertDelivery {
    pub fn new(
        name: &str,
        targets: &[AlertTarget],
        log: Option<Arc<dyn LineSink>>,
        errors: Arc<dyn LineSink>,
        stats: Arc<AlertStats>,
    ) -> AlertDelivery {
        let senders = targets
            .iter()
            .filter_map(|target| match target {
                AlertTarget::Webhook {
                    url,
                    ca_pem,
                    timeout,
                    retries,
                    retry_delay,
                } => Some(Sender::Webhook(Webhook::new(
                    url,
                    ca_pem.as_deref(),
                    *timeout,
                    (*retries, *retry_delay),
                ))),
                AlertTarget::Log => log.clone().map(Sender::Log),
                AlertTarget::Stdout => Some(Sender::Stdout),
            })
            .collect();
        AlertDelivery {
            name: name.to_string(),
            senders,
            errors,
            stats,
        }
    }

    fn failed(&self, error: &str, event: &AlertEvent) {
        self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
        tracing::error!("alert `{}`: {error}", self.name);
        let mut line = String::from("{\"error\":");
        write_json_string(
            &format!("alert `{}` not delivered: {error}", self.name),
            &mut line,
        );
        line.push_str(",\"alert\":");
        line.push_str(&event.json);
        line.push_str("}\n");
        self.errors.write(&line);
        self.errors.flush();
    }
}

impl Deliver<AlertEvent> for AlertDelivery {
    fn deliver(&mut self, batch: Vec<AlertEvent>) {
        for event in &batch {
            for sender in &self.senders {
                match sender {
                    Sender::Webhook(hook) => {
                        if let Err(e) = hook.post(&event.json, &self.stats.webhook_failures) {
                            self.failed(&e, event);
                        }
                    }
                    Sender::Log(log) => log.write(&format!("{}\n", event.json)),
                    Sender::Stdout => println!("alert {}: {}", self.name, event.json),
                }
            }
        }
        for sender in &self.senders {
            if let Sender::Log(log) = sender {
                log.flush();
            }
        }
    }
}
