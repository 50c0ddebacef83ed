//! Alerts: a condition over a pipeline's rows, a message, a severity, dedup per group with
//! a cooldown in event time, delivered to webhooks, a JSON Lines output or stdout.
//!
//! Layout: `config` (typed settings), `template` (messages), `rule` (evaluation, dedup,
//! cooldown), `deliver` (targets, on the alert's own queue thread). Rows are routed to
//! workers by their group fields, so a group's cooldown is decided in one place.

pub mod config;
pub mod deliver;
pub mod rule;
pub mod template;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;

use crate::operators::fallible::Rows;
use crate::runtime::DurableRun;
use crate::sinks::LineSink;
use crate::sinks::delivery::queue::QueueSender;
use crate::sinks::each_time::each_completed_time;
use crate::store::stable_hash;
use crate::value::{Row, Value};
use config::AlertConfig;
use deliver::AlertStats;
use rule::{AlertEvent, AlertRule};

/// Evaluates an alert over a pipeline's rows, queueing what fires.
pub fn alert_rows<'scope>(
    rows: Rows<'scope>,
    config: AlertConfig,
    queue: QueueSender<AlertEvent>,
    errors: Arc<dyn LineSink>,
    stats: Arc<AlertStats>,
    durable: Option<Arc<DurableRun>>,
) -> Stream<'scope, u64, Vec<()>> {
    let fields = config.group_fields.clone();
    let route = Exchange::new(move |(row, _, _): &(Row, u64, i64)| {
        let group: Vec<&Value> = fields.iter().map(|f| row.get(*f)).collect();
        stable_hash(&group)
    });
    let mut rule = AlertRule::new(config);
    each_completed_time(
        rows.inner,
        route,
        "Alert",
        |(_, t, _), _| *t,
        move |time, records| {
            let mut updates: Vec<(Row, i64)> =
                records.into_iter().map(|(r, _, d)| (r, d)).collect();
            let suppressed = rule.suppressed;
            let fired = rule.evaluate(time, &mut updates);
            stats
                .suppressed
                .fetch_add(rule.suppressed - suppressed, Ordering::Relaxed);
            for error in rule.errors.drain(..) {
                let mut line = String::from("{\"error\":");
                crate::value::write_json_string(&error, &mut line);
                line.push_str("}\n");
                errors.write_at(Some(time), &line);
            }
            // NB: the rule's state advances even for a time a resumed run already
            // delivered, so cooldowns after the resume point match an uninterrupted run.
            if durable.as_ref().is_some_and(|d| d.delivered(Some(time))) {
                return;
            }
            stats.fired.fetch_add(fired.len() as u64, Ordering::Relaxed);
            if !fired.is_empty() && !queue.send(fired) {
                tracing::error!("an alert delivery thread stopped");
            }
        },
        || {},
    )
}
