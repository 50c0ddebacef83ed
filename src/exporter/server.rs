//! `serve`'s own figures as Prometheus metrics: connections, commands (in all and per
//! command), the clients following changes with a blocking `XREAD`, the keys held and the
//! writes queued for the dataflow. Read at each scrape from the counters `INFO` reports.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::collect::{Fmt, counter, gauge, labelled_counters, read};
use crate::server::Server;

/// Reads a server's counters at each scrape; nothing once the server is gone.
pub struct ServerCollector {
    server: Weak<Server>,
}

impl std::fmt::Debug for ServerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCollector")
    }
}

impl ServerCollector {
    pub fn new(server: Weak<Server>) -> ServerCollector {
        ServerCollector { server }
    }
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        let Some(server) = self.server.upgrade() else {
            return Ok(());
        };
        let e = &mut encoder;
        let stats = &server.stats;
        let connected = stats.connected.load(Ordering::Relaxed);
        gauge(
            e,
            "kvflow_server_connected_clients",
            "Clients connected now.",
            connected as f64,
        )?;
        counter(
            e,
            "kvflow_server_connections_received",
            "Connections accepted since the server started.",
            read(&stats.connections_received),
        )?;
        counter(
            e,
            "kvflow_server_connections_rejected",
            "Connections refused at maxclients.",
            read(&stats.rejected),
        )?;
        counter(
            e,
            "kvflow_server_commands",
            "Commands processed.",
            read(&stats.commands),
        )?;
        gauge(
            e,
            "kvflow_server_queued_writes",
            "Writes waiting for the dataflow's input.",
            server.queue.queued() as f64,
        )?;
        let (calls, blocked, keys) = {
            let db = server.lock();
            let calls: Vec<(String, u64)> = db
                .command_calls
                .iter()
                .map(|(name, calls)| (name.clone(), *calls))
                .collect();
            (calls, db.blocked_readers, db.keys.len())
        };
        gauge(
            e,
            "kvflow_server_blocked_clients",
            "Clients waiting in a blocking XREAD for new changes.",
            blocked as f64,
        )?;
        gauge(
            e,
            "kvflow_server_keys",
            "Keys the server holds.",
            keys as f64,
        )?;
        per_command(e, &calls)
    }
}

/// Calls of each command called at least once, labelled `command`.
fn per_command(encoder: &mut DescriptorEncoder, calls: &[(String, u64)]) -> Fmt {
    let counts = calls.iter().map(|(command, n)| (command.as_str(), *n));
    labelled_counters(
        encoder,
        ("kvflow_server_command_calls", "Calls of a command."),
        "command",
        counts,
    )
}
