//! The dataflow file's sinks that deliver elsewhere: `[[sync]]`, `[[alerts]]`, `[[routes]]`
//! and `[routing]`.
//!
//! ```toml
//! [[sync]]
//! name = "totals_to_redis"
//! from = "user_totals"            # a pipeline's changelog ...
//! # keys = ["^user_"]             # ... or the store's live table, keys matching a pattern
//! key = ["user"]                  # fields that make the target key (default: the
//!                                 # pipeline's group fields, or its `key` field)
//! ts = "ts"                       # optional field with the row's event time
//! target = { kind = "redis", url = "redis://127.0.0.1:6379/", prefix = "totals:" }
//! # target = { kind = "postgres", url = "postgresql://postgres@127.0.0.1/test", table = "totals" }
//! # target = { kind = "kvflow", url = "redis://127.0.0.1:7379/", prefix = "" }
//! standby = { kind = "redis", url = "redis://127.0.0.1:6380/", prefix = "totals:" }
//! conflict = "last-writer-wins"   # or "source-wins" (default), "target-wins"
//! conflict_log = true             # <name>.conflicts output, both versions of each conflict
//! origin = "node-a"               # this node's id (default "local")
//! target_origin = "node-b"        # changes that came from the target are not sent back
//! batch_size = 500                # a batch goes out at this size ...
//! batch_timeout_ms = 20           # ... or when its first change waited this long
//! queue = 10000                   # changes queued before the dataflow is back-pressured
//! max_retries = 10                # then the batch goes to <name>.dead-letter
//! retry_delay_ms = 50             # first backoff, doubling, with jitter ...
//! retry_cap_ms = 5000             # ... up to this
//! health_interval_ms = 500        # while on the standby, check the primary this often
//! health_failures = 3             # failed batches before switching to the standby
//! timeout_ms = 2000               # connect / read / write timeout
//! tombstone_retention_ms = 604800000  # purge delete tombstones this much older (event
//!                                 # time) than the newest change delivered; default: keep
//! ```
//!
//! Alerts are described in `alerts.rs`, routes in `routes.rs`. An alert's webhook takes the
//! delivery options above that apply to it, with the same meaning but its own defaults:
//! `timeout_ms = 5000` (the whole request), `max_retries = 3`, `retry_delay_ms = 100`,
//! `retry_cap_ms = 5000`, `queue = 1024` (alerts, per worker); what it gives up goes to
//! `<alert>.webhook-dead-letter`.
//!
//! Decision: these sections are read with serde (`toml::from_str` into `deny_unknown_fields`
//! structs with `Spanned` values), not by the hand-written reader of `raw.rs`: serde's
//! messages name the unknown key and list the expected ones, and its spans keep `kvflow
//! check` pointing at line and column. They are checked against the lowered plan (pipeline
//! names, field names, expressions) and become typed configs here, at the parse edge.

use serde::Deserialize;
use std::path::Path;

use toml::Spanned;

use super::error::Fail;
use crate::plan::Plan;
use crate::plan::sinks::SinkDefs;

/// The sections this module reads; every other key belongs to `raw.rs`.
#[derive(Deserialize, Default)]
struct RawOutputs {
    #[serde(default)]
    sync: Vec<Spanned<super::sync::RawSync>>,
    #[serde(default)]
    alerts: Vec<Spanned<super::alerts::RawAlert>>,
    #[serde(default)]
    routes: Vec<Spanned<super::routes::RawRoute>>,
    routing: Option<super::routes::RawRouting>,
}

/// Reads the file's sync, alert and route sections and checks them against `plan`.
pub(super) fn read(text: &str, plan: &Plan, base_dir: &Path) -> Result<SinkDefs, Fail> {
    let raw: RawOutputs = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        Fail::at(offset, e.message().to_string())
    })?;
    let mut external = SinkDefs::default();
    for sync in &raw.sync {
        let config = super::sync::convert(sync, plan)?;
        if external.sync.iter().any(|s| s.name == config.name) {
            return Err(Fail::at(
                sync.span().start,
                format!("two sync sinks named `{}`", config.name),
            ));
        }
        external.sync.push(config);
    }
    for alert in &raw.alerts {
        let config = super::alerts::convert(alert, plan, base_dir)?;
        if external.alerts.iter().any(|a| a.name == config.name) {
            return Err(Fail::at(
                alert.span().start,
                format!("two alerts named `{}`", config.name),
            ));
        }
        external.alerts.push(config);
    }
    external.routes = super::routes::convert(text, raw.routing.as_ref(), &raw.routes)?;
    Ok(external)
}
