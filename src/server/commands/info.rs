//! `INFO`: the server, clients, stats, commandstats and keyspace sections Redis tools read, a
//! kvflow section with the dataflow's counters per pipeline, and the sinks' and alerts'
//! sections (`info_sinks`).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::Args;
use super::info_sinks::{alerts_section, commandstats_section, sinks_section};
use crate::server::Server;
use crate::server::db::Db;

/// The Redis version this server answers as (the protocol and commands it follows).
pub const REDIS_VERSION: &str = "7.0.0";

const SECTIONS: [&str; 9] = [
    "server",
    "clients",
    "persistence",
    "stats",
    "commandstats",
    "keyspace",
    "kvflow",
    "sinks",
    "alerts",
];

/// The text of `INFO [section ...]`.
pub fn write_info(server: &Server, db: &Db, args: Args) -> String {
    let wanted: Vec<String> = (1..args.len())
        .map(|i| String::from_utf8_lossy(args.get(i)).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| matches!(w.as_str(), "all" | "default" | "everything"));
    let mut out = String::new();
    for section in SECTIONS {
        if !all && !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match section {
            "server" => server_section(server, &mut out),
            "clients" => clients_section(server, db, &mut out),
            "persistence" => persistence_section(server, &mut out),
            "stats" => stats_section(server, db, &mut out),
            "commandstats" => commandstats_section(db, &mut out),
            "keyspace" => keyspace_section(db, &mut out),
            "sinks" => sinks_section(server, &mut out),
            "alerts" => alerts_section(server, &mut out),
            _ => kvflow_section(server, &mut out),
        }
    }
    out
}

fn server_section(server: &Server, out: &mut String) {
    let uptime = server.started.elapsed().as_secs();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nkvflow_version:{}\r\nredis_mode:standalone\r\n\
         process_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        server.config.listen.port(),
    );
}

fn clients_section(server: &Server, db: &Db, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\nmaxclients:{}\r\n\
         unauthenticated_clients:{}\r\n",
        server.stats.connected.load(Ordering::Relaxed),
        db.blocked_readers,
        server.config.maxclients,
        server.stats.unauthenticated.load(Ordering::Relaxed),
    );
}

/// As Redis's AOF fields: whether writes are logged and whether the last log write worked.
fn persistence_section(server: &Server, out: &mut String) {
    let logged = server.log_progress().is_some();
    let error = server.log_error();
    let status = if error.is_some() { "err" } else { "ok" };
    let _ = write!(
        out,
        "# Persistence\r\naof_enabled:{}\r\naof_last_write_status:{status}\r\n",
        u8::from(logged)
    );
    if let Some(error) = error {
        let _ = write!(
            out,
            "kvflow_log_error:{}\r\n",
            error.replace(['\r', '\n'], " ")
        );
    }
}

fn stats_section(server: &Server, db: &Db, out: &mut String) {
    let stats = &server.stats;
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         rejected_connections:{}\r\nexpired_keys:{}\r\naccept_errors:{}\r\n\
         unauthenticated_refused:{}\r\n",
        stats.connections_received.load(Ordering::Relaxed),
        stats.commands.load(Ordering::Relaxed),
        stats.rejected.load(Ordering::Relaxed),
        db.expired_keys,
        stats.accept_errors.load(Ordering::Relaxed),
        stats.unauthenticated_refused.load(Ordering::Relaxed),
    );
}

fn keyspace_section(db: &Db, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let keys = db.keys.len() + db.views.len();
    if keys > 0 {
        let expires = db
            .keys
            .iter()
            .filter(|(_, e)| e.expires_at.is_some())
            .count();
        let _ = write!(out, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
}

fn kvflow_section(server: &Server, out: &mut String) {
    let summary = server.metrics.summary(server.started.elapsed());
    let _ = write!(
        out,
        "# Kvflow\r\nevents_in:{}\r\nqueued_writes:{}\r\nmissing_deletes:{}\r\n",
        summary.events_in,
        server.queue.queued(),
        summary.missing_deletes,
    );
    for pipeline in summary.pipelines {
        let _ = write!(
            out,
            "pipeline_{}:rows={},late={},errors={}\r\n",
            pipeline.name, pipeline.rows, pipeline.late, pipeline.errors
        );
    }
}
