//! The `INFO` sections a served dataflow's sinks add: `commandstats` (calls per command, as
//! Redis writes it), `sinks` (each sync target's counters, queue, health and active target,
//! and the routes') and `alerts` (each alert's counters). They read the same counters as the
//! run's summary and its `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::Server;
use crate::server::db::Db;
use crate::sinks::sync::SyncStats;

/// `# Commandstats`: `cmdstat_<name>:calls=N` per command called at least once.
pub fn commandstats_section(db: &Db, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (name, calls) in &db.command_calls {
        let _ = write!(out, "cmdstat_{name}:calls={calls}\r\n");
    }
}

/// `# Sinks`: a line per sync target, and the routes' totals when the dataflow has routes.
pub fn sinks_section(server: &Server, out: &mut String) {
    out.push_str("# Sinks\r\n");
    let Some(external) = server.external() else {
        return;
    };
    let get = SyncStats::get;
    for (name, s) in external.sync_targets() {
        let active = match s.on_standby.load(Ordering::Relaxed) {
            true => "standby",
            false => "primary",
        };
        let _ = write!(
            out,
            "sync_{name}:delivered={},batches={},failures={},retries={},dead_lettered={},\
             conflicts={},queued={},healthy={},active={active},failovers={}\r\n",
            get(&s.delivered),
            get(&s.batches),
            get(&s.failures),
            get(&s.retries),
            get(&s.dead_lettered),
            get(&s.conflicts),
            get(&s.queued),
            u8::from(!s.failing.load(Ordering::Relaxed)),
            get(&s.failovers),
        );
    }
    let routes = external.route_stats();
    let (routed, unrouted) = (get(&routes.routed), get(&routes.unrouted));
    if routed + unrouted > 0 {
        let _ = write!(
            out,
            "routes:routed={routed},unrouted={unrouted},handler_calls={}\r\n",
            get(&routes.handled)
        );
    }
}

/// `# Alerts`: a line per alert.
pub fn alerts_section(server: &Server, out: &mut String) {
    out.push_str("# Alerts\r\n");
    let Some(external) = server.external() else {
        return;
    };
    let get = SyncStats::get;
    for (name, s) in external.alerts() {
        let _ = write!(
            out,
            "alert_{name}:fired={},suppressed={},delivered={},undelivered={},\
             webhook_failures={}\r\n",
            get(&s.fired),
            get(&s.suppressed),
            get(&s.delivered),
            get(&s.undelivered),
            get(&s.webhook_failures),
        );
    }
}
