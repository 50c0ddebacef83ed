//! The sinks' counters as Prometheus metrics: per sync target (label `target`), per alert
//! (label `alert`), and the routes' totals. They are the counters each sink already keeps for
//! the run's summary ([`ExternalSinks`]), read at each scrape; a sink that has not started
//! yet has no series.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::collect::{Fmt, counter, labelled_counters, read};
use crate::sinks::alert::deliver::AlertStats;
use crate::sinks::external::ExternalSinks;
use crate::sinks::sync::SyncStats;

/// Reads the sinks' counters at each scrape.
pub(super) struct SinkCollector {
    external: Arc<ExternalSinks>,
}

impl std::fmt::Debug for SinkCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SinkCollector")
    }
}

impl SinkCollector {
    pub(super) fn new(external: Arc<ExternalSinks>) -> SinkCollector {
        SinkCollector { external }
    }
}

/// A counter family with one series per named sink.
struct Family<'a, S> {
    label: &'a str,
    sinks: &'a [(String, Arc<S>)],
}

impl<S> Family<'_, S> {
    fn encode(
        &self,
        encoder: &mut DescriptorEncoder,
        (name, help): (&str, &str),
        field: impl Fn(&S) -> &AtomicU64,
    ) -> Fmt {
        if self.sinks.is_empty() {
            return Ok(());
        }
        let kind = ConstCounter::new(0u64).metric_type();
        let mut family = encoder.encode_descriptor(name, help, None, kind)?;
        for (sink, stats) in self.sinks {
            let labels = [(self.label, sink.as_str())];
            ConstCounter::new(read(field(stats))).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

const SYNC: [(&str, &str); 9] = [
    (
        "kvflow_sync_delivered_rows",
        "Changes a sync target accepted (those a conflict policy kept out included).",
    ),
    ("kvflow_sync_batches", "Batches written to a sync target."),
    ("kvflow_sync_failures", "Failed attempts at a batch."),
    (
        "kvflow_sync_retries",
        "Batches tried again after a failure.",
    ),
    (
        "kvflow_sync_dead_lettered_rows",
        "Changes given up after the last retry (each a dead letter).",
    ),
    (
        "kvflow_sync_conflicts",
        "Changes the conflict policy kept out of the target.",
    ),
    ("kvflow_sync_failovers", "Switches to a fallback target."),
    (
        "kvflow_sync_switchbacks",
        "Switches back to the primary target.",
    ),
    (
        "kvflow_sync_skipped_echoes",
        "Changes not sent because they came from the target node.",
    ),
];

fn sync_field(index: usize) -> impl Fn(&SyncStats) -> &AtomicU64 {
    move |s: &SyncStats| match index {
        0 => &s.delivered,
        1 => &s.batches,
        2 => &s.failures,
        3 => &s.retries,
        4 => &s.dead_lettered,
        5 => &*s.conflicts,
        6 => &s.failovers,
        7 => &s.switchbacks,
        _ => &s.skipped_echoes,
    }
}

const ALERTS: [(&str, &str); 5] = [
    ("kvflow_alerts_fired", "Alerts fired."),
    (
        "kvflow_alerts_suppressed",
        "Alerts held back by their cooldown.",
    ),
    ("kvflow_alerts_delivered", "Alerts a webhook accepted."),
    (
        "kvflow_alerts_webhook_failures",
        "Failed requests to an alert's webhook.",
    ),
    (
        "kvflow_alerts_undelivered",
        "Alerts given up after the last retry.",
    ),
];

fn alert_field(index: usize) -> impl Fn(&AlertStats) -> &AtomicU64 {
    move |s: &AlertStats| match index {
        0 => &s.fired,
        1 => &s.suppressed,
        2 => &s.delivered,
        3 => &s.webhook_failures,
        _ => &s.undelivered,
    }
}

impl Collector for SinkCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        let e = &mut encoder;
        let targets = self.external.sync_targets();
        let sync = Family {
            label: "target",
            sinks: &targets,
        };
        for (index, descriptor) in SYNC.into_iter().enumerate() {
            sync.encode(e, descriptor, sync_field(index))?;
        }
        sync_gauges(e, &targets)?;
        let alerts = self.external.alerts();
        let alert = Family {
            label: "alert",
            sinks: &alerts,
        };
        for (index, descriptor) in ALERTS.into_iter().enumerate() {
            alert.encode(e, descriptor, alert_field(index))?;
        }
        let routes = self.external.route_stats();
        counter(
            e,
            "kvflow_routes_routed_events",
            "Changes a route matched.",
            read(&routes.routed),
        )?;
        counter(
            e,
            "kvflow_routes_unrouted_events",
            "Changes no route matched.",
            read(&routes.unrouted),
        )?;
        counter(
            e,
            "kvflow_routes_handler_calls",
            "Handler invocations (a batch counts once).",
            read(&routes.handled),
        )?;
        per_route(e, &routes.by_route())
    }
}

/// One figure of a sync target.
type SyncFigure = fn(&SyncStats) -> i64;

/// Each sync target's state now: its queue, its health and which of its targets is active.
fn sync_gauges(encoder: &mut DescriptorEncoder, targets: &[(String, Arc<SyncStats>)]) -> Fmt {
    if targets.is_empty() {
        return Ok(());
    }
    let gauges: [(&str, &str, SyncFigure); 3] = [
        (
            "kvflow_sync_queued_rows",
            "Changes waiting for a sync target's delivery thread.",
            |s| i64::try_from(read(&s.queued)).unwrap_or(i64::MAX),
        ),
        (
            "kvflow_sync_healthy",
            "1 while a sync target's last batch succeeded, 0 after a failed attempt.",
            |s| i64::from(!s.failing.load(Ordering::Relaxed)),
        ),
        (
            "kvflow_sync_standby_active",
            "1 while a sync target's batches go to its standby, 0 on its primary.",
            |s| i64::from(s.on_standby.load(Ordering::Relaxed)),
        ),
    ];
    for (name, help, value) in gauges {
        let kind = ConstGauge::new(0i64).metric_type();
        let mut family = encoder.encode_descriptor(name, help, None, kind)?;
        for (target, stats) in targets {
            let labels = [("target", target.as_str())];
            ConstGauge::new(value(stats)).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// The changes each route took, labelled `route`.
fn per_route(encoder: &mut DescriptorEncoder, by_route: &[(String, u64)]) -> Fmt {
    if by_route.is_empty() {
        return Ok(());
    }
    let counts = by_route.iter().map(|(route, n)| (route.as_str(), *n));
    labelled_counters(
        encoder,
        ("kvflow_route_events", "Changes a route took."),
        "route",
        counts,
    )
}
