//! The timely side of an alert: per completed time, the rule decides what fires; the log and
//! stdout targets are written at once, on the worker, like the run's other outputs; each
//! webhook's alerts go to that webhook's own queue (see `deliver`).
//!
//! Decision: back-pressure without blocking the worker. When a webhook's queue is full, the
//! operator keeps the alerts that did not fit, with a capability for their time, and tries
//! again a moment later ([`RETRY_EVERY`]). The held time holds the run's probe back, so the
//! input stops being fed at the next batch boundary — the back-pressure a sync sink's full
//! queue gives, and nothing is dropped — but the worker goes on stepping: the other outputs
//! of what was already fed are written, and other webhooks get their alerts. A sync sink
//! blocks its worker instead; that is fine for it (a batch boundary waits for it anyway),
//! but would stop every output of the worker while one webhook is slow. Each time held
//! back is counted in `AlertStats::backpressured`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

use super::deliver::AlertStats;
use super::rule::{AlertEvent, AlertRule};
use crate::operators::by_time::HeldByTime;
use crate::operators::fallible::Rows;
use crate::plan::sinks::AlertConfig;
use crate::sinks::LineSink;
use crate::sinks::delivery::dead_letter::error_row;
use crate::sinks::delivery::queue::{QueueSender, TrySend};
use crate::sinks::resumed::Delivered;
use crate::store::stable_hash;
use crate::value::{Row, Value};

/// How soon a held-back alert tries its webhook's queue again.
pub const RETRY_EVERY: Duration = Duration::from_millis(1);

/// The outputs an alert writes on the worker.
pub struct AlertOutputs {
    /// `<alert>.alerts`, for a `log` target.
    pub log: Option<Arc<dyn LineSink>>,
    /// Whether a `stdout` target prints each alert.
    pub stdout: bool,
    /// The pipeline's error output (rows the condition failed on).
    pub errors: Arc<dyn LineSink>,
}

/// Evaluates an alert over a pipeline's rows, writing its log and stdout and queueing what
/// fires for each of `webhooks`.
pub fn alert_rows<'scope>(
    rows: Rows<'scope>,
    alert: Alert,
    webhooks: Vec<QueueSender<AlertEvent>>,
) -> Stream<'scope, u64, Vec<()>> {
    let fields = alert.rule.config().group_fields.clone();
    let route = Exchange::new(move |(row, _, _): &(Row, u64, i64)| {
        let group: Vec<&Value> = fields.iter().map(|f| row.get(*f)).collect();
        stable_hash(&group)
    });
    let scope = rows.inner.scope();
    rows.inner
        .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            route,
            "Alert",
            move |_cap, info| {
                let activator = scope.activator_for(info.address);
                let mut alert = alert;
                let mut pending: HeldByTime<Vec<(Row, i64)>> = HeldByTime::default();
                let mut outboxes: Vec<Outbox> = webhooks.into_iter().map(Outbox::new).collect();
                move |(input, frontier), _output| {
                    input.for_each(|cap, data| pending.hold_updates(&cap, data));
                    while let Some((time, cap, updates)) = pending.next_completed(frontier) {
                        let fired = alert.fire(time, updates);
                        if let Some((last, others)) = outboxes.split_last_mut()
                            && !fired.is_empty()
                        {
                            for outbox in others {
                                outbox.hold(cap.clone(), fired.clone());
                            }
                            last.hold(cap, fired);
                        }
                    }
                    let mut queued = true;
                    for outbox in &mut outboxes {
                        queued &= outbox.flush(&alert.stats);
                    }
                    if !queued {
                        activator.activate_after(RETRY_EVERY);
                    }
                }
            },
        )
}

/// One alert's rule, its worker-side outputs and its counters.
pub struct Alert {
    rule: AlertRule,
    outputs: AlertOutputs,
    stats: Arc<AlertStats>,
    delivered: Delivered,
}

impl Alert {
    pub fn new(
        config: AlertConfig,
        outputs: AlertOutputs,
        stats: Arc<AlertStats>,
        delivered: Delivered,
    ) -> Alert {
        Alert {
            rule: AlertRule::new(config),
            outputs,
            stats,
            delivered,
        }
    }

    /// The alerts that fire at `time`, written to the log and stdout; none for a time a
    /// resumed durable run delivered before its restart.
    fn fire(&mut self, time: u64, mut updates: Vec<(Row, i64)>) -> Vec<AlertEvent> {
        let rule = &mut self.rule;
        let suppressed = rule.suppressed;
        let fired = rule.evaluate(time, &mut updates);
        self.stats
            .suppressed
            .fetch_add(rule.suppressed - suppressed, Ordering::Relaxed);
        for error in rule.errors.drain(..) {
            let mut line = String::new();
            error_row(&error, "", &mut line);
            self.outputs.errors.write_at(Some(time), &line);
        }
        // NB: the rule's state advances even for a time a resumed run already
        // delivered, so cooldowns after the resume point match an uninterrupted run.
        if self.delivered.covers(Some(time)) {
            return Vec::new();
        }
        self.stats
            .fired
            .fetch_add(fired.len() as u64, Ordering::Relaxed);
        self.write(time, &fired);
        fired
    }

    fn write(&self, time: u64, fired: &[AlertEvent]) {
        if fired.is_empty() {
            return;
        }
        if let Some(log) = &self.outputs.log {
            let mut text = String::new();
            for event in fired {
                text.push_str(&event.json);
                text.push('\n');
            }
            log.write_at(Some(time), &text);
            log.flush();
        }
        if self.outputs.stdout {
            for event in fired {
                println!("alert {}: {}", self.rule.config().name, event.json);
            }
        }
    }
}

/// A webhook's queue and the alerts waiting for room in it, oldest time first.
struct Outbox {
    queue: QueueSender<AlertEvent>,
    waiting: VecDeque<Waiting>,
}

/// Alerts of one time that are not queued yet; the capability holds their time open.
struct Waiting {
    _time: Capability<u64>,
    events: Vec<AlertEvent>,
    /// Whether this wait was counted as back-pressure.
    counted: bool,
}

impl Outbox {
    fn new(queue: QueueSender<AlertEvent>) -> Outbox {
        Outbox {
            queue,
            waiting: VecDeque::new(),
        }
    }

    /// Adds a time's alerts after those already waiting, holding the time open.
    fn hold(&mut self, time: Capability<u64>, events: Vec<AlertEvent>) {
        self.waiting.push_back(Waiting {
            _time: time,
            events,
            counted: false,
        });
    }

    /// Queues what waits, oldest first, until the queue is full; whether all of it went.
    fn flush(&mut self, stats: &AlertStats) -> bool {
        while let Some(front) = self.waiting.front_mut() {
            match self.queue.try_send(std::mem::take(&mut front.events)) {
                Ok(()) => {}
                Err(TrySend::Full(rest)) => {
                    front.events = rest;
                    if !front.counted {
                        front.counted = true;
                        stats.backpressured.fetch_add(1, Ordering::Relaxed);
                    }
                    return false;
                }
                Err(TrySend::Stopped) => {
                    tracing::error!("an alert delivery thread stopped");
                }
            }
            self.waiting.pop_front();
        }
        true
    }
}
