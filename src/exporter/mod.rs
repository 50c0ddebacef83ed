//! `--metrics ADDR`: a run's counters served at `http://ADDR/metrics` in the Prometheus text
//! format (version 0.0.4), for Prometheus or any scraper to read while the run goes on.
//!
//! The counters are the ones the run already keeps for its summary (`assemble::counters`):
//! nothing is counted twice, and a run without `--metrics` pays nothing. Each scrape reads
//! them as they are at that instant ([`collect`]). The exposition format is written by the
//! `prometheus-client` crate and the HTTP side is `tiny_http`: one thread answers scrapes one
//! at a time, which is all a scraper needs, and stops when the run ends. The same address
//! serves a live dashboard at `/` ([`dashboard`]).

mod collect;
mod dashboard;
mod durability;
mod latency;
mod server;
mod sinks;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

use crate::plan::Plan;
use crate::runtime::Metrics;
use crate::runtime::operator_stats::OperatorStats;
use crate::sinks::external::ExternalSinks;
use collect::RunCollector;
use dashboard::Dashboard;
pub use durability::DurabilityCollector;
pub use latency::BatchLatency;
pub use server::ServerCollector;
use sinks::SinkCollector;

/// The metrics endpoint of one run; stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
    latency: Arc<BatchLatency>,
    registry: Arc<Mutex<Registry>>,
}

impl MetricsServer {
    /// Serves `metrics` and the operators' figures at `addr` (`HOST:PORT`, or a bare port on
    /// the loopback interface), and the dashboard of `plan`.
    pub fn start(
        addr: &str,
        plan: &Plan,
        metrics: Arc<Metrics>,
        operators: Arc<OperatorStats>,
        external: Arc<ExternalSinks>,
    ) -> Result<MetricsServer, String> {
        let addr = parse_addr(addr)?;
        let server = tiny_http::Server::http(addr)
            .map_err(|e| format!("--metrics {addr}: cannot listen: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("--metrics {addr}: not an IP address"))?;
        let server = Arc::new(server);
        let latency = Arc::new(BatchLatency::new(&metrics.names));
        metrics.want_store_bytes();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(RunCollector::new(
            metrics,
            operators,
            Instant::now(),
        )));
        registry.register_collector(Box::new(SinkCollector::new(external)));
        registry.register(
            "kvflow_batch_latency_seconds",
            "From a batch's opening to every output having passed it.",
            latency.histogram(),
        );
        registry.register(
            "kvflow_pipeline_latency_seconds",
            "From a batch's opening to a pipeline's outputs having passed it.",
            latency.by_pipeline(),
        );
        let registry = Arc::new(Mutex::new(registry));
        let (serving, served) = (server.clone(), registry.clone());
        let dashboard = Dashboard::new(plan);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(&serving, &served, &dashboard))
            .map_err(|e| format!("--metrics: cannot start its thread: {e}"))?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
            addr,
            latency,
            registry,
        })
    }

    /// Adds figures made after the endpoint started (a server's, say) to every later scrape.
    pub fn register(&self, collector: Box<dyn Collector>) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.register_collector(collector);
    }

    /// What the run reports its batches to (give it to `RunOptions::observer`).
    pub fn latency(&self) -> Arc<BatchLatency> {
        self.latency.clone()
    }

    /// The address it listens on (the port chosen when `:0` was given).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `HOST:PORT`, or a bare port on 127.0.0.1.
pub fn parse_addr(addr: &str) -> Result<SocketAddr, String> {
    let full = match addr.parse::<u16>() {
        Ok(port) => format!("127.0.0.1:{port}"),
        Err(_) => addr.to_string(),
    };
    full.to_socket_addrs()
        .map_err(|e| format!("--metrics {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--metrics {addr}: the name resolves to no address"))
}

fn serve(server: &tiny_http::Server, registry: &Mutex<Registry>, dashboard: &Dashboard) {
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or_default();
        let response = match (path, dashboard.file(path)) {
            ("/metrics", _) => exposition(registry),
            (_, Some((body, kind))) => typed_response(body, kind),
            _ => text_response(NOT_FOUND, 404),
        };
        // NB: a scraper that hung up gets nothing; the run goes on.
        let _ = request.respond(response);
    }
}

const NOT_FOUND: &str =
    "not found: the dashboard is at /, the metrics at /metrics, the plan at /plan.json\n";

fn exposition(registry: &Mutex<Registry>) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut body = String::new();
    let registry = registry.lock().unwrap_or_else(|e| e.into_inner());
    match prometheus_text::encode(&mut body, &registry) {
        Ok(()) => typed_response(&body, prometheus_text::CONTENT_TYPE),
        Err(_) => text_response("the metrics could not be written\n", 500),
    }
}

fn typed_response(body: &str, kind: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_string(body);
    if let Ok(header) = tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()) {
        response.add_header(header);
    }
    response
}

fn text_response(text: &str, status: u16) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string(text).with_status_code(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_listens_on_the_loopback_interface() {
        assert_eq!(
            parse_addr("9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(
            parse_addr("0.0.0.0:9").unwrap(),
            "0.0.0.0:9".parse().unwrap()
        );
        assert!(parse_addr("not an address").is_err());
    }
}
