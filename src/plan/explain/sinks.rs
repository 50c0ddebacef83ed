//! The sinks' part of `kvflow explain`'s text: sync targets, alerts and routes (their part of
//! the graph is in [`super::graph`]).

use std::fmt::Write as _;

use crate::plan::sinks::{
    Action, AlertConfig, AlertTarget, BatchAction, Handler, RouteTable, SinkDefs, SyncConfig,
    SyncSource,
};

/// One paragraph per sync sink and alert, and one for the routes.
pub fn sinks_text(sinks: &SinkDefs, out: &mut String) {
    for sync in &sinks.sync {
        let _ = writeln!(out, "\nsync {} <- {}", sync.name, sync_input(sync));
        let _ = writeln!(out, "  {}", sync_target(sync));
    }
    for alert in &sinks.alerts {
        let _ = writeln!(out, "\nalert {} <- pipeline {}", alert.name, alert.pipeline);
        let _ = writeln!(out, "  {}", alert_rule(alert));
    }
    if let Some(table) = &sinks.routes {
        routes_text(table, out);
    }
}

fn sync_input(sync: &SyncConfig) -> String {
    match &sync.source {
        SyncSource::Pipeline {
            pipeline,
            names,
            key_fields,
            ..
        } => {
            let key: Vec<&str> = key_fields.iter().map(|&i| names[i].as_str()).collect();
            format!("pipeline {pipeline} key [{}]", key.join(", "))
        }
        SyncSource::Table { keys } => {
            let keys: Vec<&str> = keys.iter().map(|r| r.as_str()).collect();
            match keys.is_empty() {
                true => "table (all keys)".to_string(),
                false => format!("table keys {}", keys.join(" | ")),
            }
        }
    }
}

fn sync_target(sync: &SyncConfig) -> String {
    let standby = sync
        .standby
        .as_ref()
        .map_or(String::new(), |s| format!(", standby {}", s.describe()));
    format!(
        "to {}{standby}, conflict {}, batch {} / {}ms, {} retries",
        sync.target.describe(),
        sync.policy.name(),
        sync.batch.size,
        sync.batch.timeout.as_millis(),
        sync.retry.max_retries
    )
}

fn alert_rule(alert: &AlertConfig) -> String {
    let targets: Vec<String> = alert.targets.iter().map(alert_target).collect();
    format!(
        "when {} severity {} cooldown {}ms -> {}",
        alert.condition.text(),
        alert.severity.name(),
        alert.cooldown_ms,
        targets.join(", ")
    )
}

fn alert_target(target: &AlertTarget) -> String {
    match target {
        AlertTarget::Webhook(hook) => format!("webhook {}", hook.url),
        AlertTarget::Log => "log".to_string(),
        AlertTarget::Stdout => "stdout".to_string(),
    }
}

fn routes_text(table: &RouteTable, out: &mut String) {
    let _ = writeln!(
        out,
        "\nroutes <- store changes (first match by priority; counts per {}ms)",
        table.counts_window_ms
    );
    for route in table.routes() {
        let kinds: Vec<&str> = route.kinds.iter().map(|k| k.name()).collect();
        let _ = writeln!(
            out,
            "  route {} priority {} kinds {} keys {} -> [{}]",
            route.name,
            route.priority,
            if kinds.is_empty() {
                "all".to_string()
            } else {
                kinds.join(",")
            },
            route.key_regex.as_ref().map_or("*", |r| r.as_str()),
            route.handlers.join(", ")
        );
    }
    for (name, handler) in &table.handlers {
        let _ = writeln!(out, "  handler {name}: {}", describe_handler(handler));
    }
}

fn describe_handler(handler: &Handler) -> String {
    match handler {
        Handler::Each(action) => describe_action(action).to_string(),
        Handler::Conditional { predicate, action } => {
            format!("{} if {}", describe_action(action), predicate.text())
        }
        Handler::Batch {
            size,
            timeout_ms,
            action,
        } => {
            let action = match action {
                BatchAction::Log => "log",
                BatchAction::Function(_) => "function",
            };
            format!("{action} in batches of {size} or {timeout_ms}ms")
        }
    }
}

fn describe_action(action: &Action) -> &'static str {
    match action {
        Action::Log => "log",
        Action::Stdout => "stdout",
        Action::Function(_) => "function",
    }
}
