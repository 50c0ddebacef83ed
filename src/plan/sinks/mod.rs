//! Sinks as plan data: the sync targets, alerts and routes a plan delivers to, typed and
//! checked when the plan is made, and referring to pipelines by name.
//!
//! Front ends (dataflow files, the Rust API) build these; `kvflow check` and `explain` print
//! them; `sinks` and `routes` deliver them. Nothing here runs: the delivery threads,
//! connections and counters belong to the run.

pub mod alert;
pub mod delivery;
pub mod routes;
pub mod sync;
pub mod template;

use std::sync::Arc;

pub use alert::{AlertConfig, AlertTarget, Severity, WebhookConfig};
pub use delivery::{BatchConfig, RetryConfig};
pub use routes::{Action, BatchAction, Handler, Route, RouteTable};
pub use sync::{ConflictPolicy, HealthConfig, SyncConfig, SyncSource, TargetConfig};
pub use template::Template;

/// The sync sinks, alerts and routes of a plan.
#[derive(Clone, Debug, Default)]
pub struct SinkDefs {
    pub sync: Vec<SyncConfig>,
    pub alerts: Vec<AlertConfig>,
    pub routes: Option<Arc<RouteTable>>,
}

impl SinkDefs {
    pub fn is_empty(&self) -> bool {
        self.sync.is_empty() && self.alerts.is_empty() && self.routes.is_none()
    }

    /// The pipelines these sinks read, by name (each once, in order of first use).
    pub fn pipelines_read(&self) -> Vec<&str> {
        let from_sync = self.sync.iter().filter_map(|s| match &s.source {
            SyncSource::Pipeline { pipeline, .. } => Some(pipeline.as_str()),
            SyncSource::Table { .. } => None,
        });
        let from_alerts = self.alerts.iter().map(|a| a.pipeline.as_str());
        let mut names: Vec<&str> = Vec::new();
        for name in from_sync.chain(from_alerts) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Adds `other`'s sinks; refused when a sync sink or an alert of the same name exists,
    /// or when both have routes (a run has one route table).
    pub fn merge(&mut self, other: SinkDefs) -> Result<(), String> {
        if let Some(clash) = other
            .sync
            .iter()
            .find(|s| self.sync.iter().any(|mine| mine.name == s.name))
        {
            return Err(format!("sync sink `{}` is defined twice", clash.name));
        }
        if let Some(clash) = other
            .alerts
            .iter()
            .find(|a| self.alerts.iter().any(|mine| mine.name == a.name))
        {
            return Err(format!("alert `{}` is defined twice", clash.name));
        }
        if other.routes.is_some() && self.routes.is_some() {
            return Err("routes are defined twice (a run has one route table)".into());
        }
        self.sync.extend(other.sync);
        self.alerts.extend(other.alerts);
        self.routes = self.routes.take().or(other.routes);
        Ok(())
    }
}
