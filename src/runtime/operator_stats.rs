//! Per-operator figures from timely's and differential's own logging: the time each operator
//! was scheduled, the records it received, and the updates and batches each arrangement holds
//! (the state users ask about). The loggers are registered on a worker only when the run serves metrics, before
//! its dataflow is built (an arrangement finds its logger when it is made), so a run without
//! `--metrics` logs nothing.
//!
//! Each operator is labelled with the node of the plan's graph that built it
//! (`render::spans`), so the dashboard can show the figures on the plan.
//!
//! Differential reports a trace's batches as they are made, merged and dropped; those events
//! balance (see `differential_dataflow::logging`), so the running sums are what the trace
//! holds. Operators of kvflow's own that keep state in hash maps (sessions, running totals,
//! interval joins) are not arrangements: they report the entries they hold through a
//! `operators::state_gauge::StateGauge`, which they get when they are built on a worker whose
//! run serves metrics (`None` otherwise, so a run without `--metrics` pays nothing).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use differential_dataflow::logging::{DifferentialEvent, DifferentialEventBuilder};
use timely::logging::{StartStop, TimelyEvent, TimelyEventBuilder};

use crate::operators::state_gauge::{report_state_to, stop_reporting_state};
use crate::render::spans::NodeSpans;

/// One operator of one worker.
#[derive(Clone, Debug, Default)]
pub struct OperatorStat {
    pub name: String,
    pub scheduled: Duration,
    /// Records received on its inputs (timely's message log: every channel's receiving end).
    pub records_in: u64,
    /// `Some((updates, batches))` for an arrangement.
    pub arranged: Option<(i64, i64)>,
    /// `Some(entries)` for an operator of kvflow's own that keeps state.
    pub held: Option<i64>,
    /// The id of the node of the plan's graph that built it (`render::spans`).
    pub node: Option<String>,
}

/// Every worker's operators, by `(worker, operator id)`.
#[derive(Debug, Default)]
pub struct OperatorStats {
    operators: Mutex<HashMap<(usize, usize), OperatorStat>>,
    /// The state gauges of kvflow's own operators, by `(worker, operator id)`.
    held: Mutex<HashMap<(usize, usize), Arc<AtomicI64>>>,
    /// Each worker's graph nodes, by the operators they built.
    spans: Mutex<HashMap<usize, NodeSpans>>,
}

impl OperatorStats {
    /// Registers the loggers that fill these figures in on `worker` (before its dataflow is
    /// built).
    pub fn register(self: &Arc<Self>, worker: &mut timely::worker::Worker) {
        let index = worker.index();
        let Some(mut registry) = worker.log_register() else {
            return;
        };
        let stats = self.clone();
        let mut log = WorkerLog::default();
        registry.insert::<TimelyEventBuilder, _>("timely", move |_, data| {
            if let Some(events) = data {
                stats.timely(index, events, &mut log);
            }
        });
        let stats = self.clone();
        registry.insert::<DifferentialEventBuilder, _>("differential/arrange", move |_, data| {
            if let Some(events) = data {
                stats.differential(index, events);
            }
        });
        let stats = self.clone();
        report_state_to(move |id| stats.state_gauge(index, id));
    }

    /// Ends the reporting of operators built on this thread (once its dataflow is built).
    pub fn built() {
        stop_reporting_state();
    }

    /// Tells which graph node built each of `worker`'s operators.
    pub fn attribute(&self, worker: usize, spans: NodeSpans) {
        if let Ok(mut all) = self.spans.lock() {
            all.insert(worker, spans);
        }
    }

    /// The state gauge of operator `id` of `worker`.
    fn state_gauge(&self, worker: usize, id: usize) -> Arc<AtomicI64> {
        let gauge = Arc::new(AtomicI64::new(0));
        if let Ok(mut held) = self.held.lock() {
            held.insert((worker, id), gauge.clone());
        }
        gauge
    }

    /// Every operator's figures, ordered by worker and operator id.
    pub fn snapshot(&self) -> Vec<((usize, usize), OperatorStat)> {
        let mut operators = self.operators.lock().map(|m| m.clone()).unwrap_or_default();
        if let Ok(held) = self.held.lock() {
            for (key, gauge) in held.iter() {
                operators.entry(*key).or_default().held = Some(gauge.load(Ordering::Relaxed));
            }
        }
        if let Ok(spans) = self.spans.lock() {
            for ((worker, id), op) in &mut operators {
                let node = spans.get(worker).and_then(|s| s.node_of(*id));
                op.node = node.map(str::to_string);
            }
        }
        let mut all: Vec<_> = operators.into_iter().collect();
        all.sort_by_key(|(key, _)| *key);
        all
    }

    fn timely(&self, worker: usize, events: &[(Duration, TimelyEvent)], log: &mut WorkerLog) {
        let Ok(mut operators) = self.operators.lock() else {
            return;
        };
        for (at, event) in events {
            match event {
                // NB: a dataflow (address of length 1) contains its operators: not counted.
                TimelyEvent::Operates(op) if op.addr.len() > 1 => {
                    operators.entry((worker, op.id)).or_default().name = op.name.clone();
                    log.operator_ids.insert(op.addr.clone(), op.id);
                }
                TimelyEvent::Channels(channel) => {
                    let mut target = channel.scope_addr.clone();
                    target.push(channel.target.0);
                    log.channel_targets.insert(channel.id, target);
                }
                TimelyEvent::Messages(message) if !message.is_send => {
                    if let Some(id) = log.receiver(message.channel) {
                        let op = operators.entry((worker, id)).or_default();
                        op.records_in += u64::try_from(message.record_count).unwrap_or(0);
                    }
                }
                TimelyEvent::Schedule(s) => match s.start_stop {
                    StartStop::Start => {
                        log.started.insert(s.id, *at);
                    }
                    StartStop::Stop => {
                        if let (Some(start), Some(op)) = (
                            log.started.remove(&s.id),
                            operators.get_mut(&(worker, s.id)),
                        ) {
                            op.scheduled += at.saturating_sub(start);
                        }
                    }
                },
                _ => {}
            }
        }
    }

    fn differential(&self, worker: usize, events: &[(Duration, DifferentialEvent)]) {
        let Ok(mut operators) = self.operators.lock() else {
            return;
        };
        for (_, event) in events {
            let (operator, updates, batches) = match event {
                DifferentialEvent::Batch(b) => (b.operator, count(b.length), 1),
                DifferentialEvent::Merge(m) => match m.complete {
                    Some(merged) => (
                        m.operator,
                        count(merged) - count(m.length1) - count(m.length2),
                        -1,
                    ),
                    None => continue,
                },
                DifferentialEvent::Drop(d) => (d.operator, -count(d.length), -1),
                _ => continue,
            };
            let op = operators.entry((worker, operator)).or_default();
            let (held, made) = op.arranged.get_or_insert((0, 0));
            *held += updates;
            *made += batches;
        }
    }
}

/// What one worker's timely log has told so far, to make sense of its later events.
#[derive(Default)]
struct WorkerLog {
    /// When each operator's current scheduling started.
    started: HashMap<usize, Duration>,
    /// Operator ids by address (scope path and index).
    operator_ids: HashMap<Vec<usize>, usize>,
    /// The address of the operator each channel feeds.
    channel_targets: HashMap<usize, Vec<usize>>,
    /// Channels resolved to the id of the operator they feed.
    receivers: HashMap<usize, usize>,
}

impl WorkerLog {
    /// The id of the operator that receives channel `channel`'s messages, `None` for a
    /// channel that leaves its scope (index 0 is the scope's own boundary).
    fn receiver(&mut self, channel: usize) -> Option<usize> {
        if let Some(id) = self.receivers.get(&channel) {
            return Some(*id);
        }
        let id = *self.operator_ids.get(self.channel_targets.get(&channel)?)?;
        self.receivers.insert(channel, id);
        Some(id)
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
