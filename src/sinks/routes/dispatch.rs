//! The routing operator: each completed time's events, in `seq` order, go to the first
//! matching route's handlers; counts per route and kind are written per window.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;

use crate::change::{ChangeEvent, EventKind};
use crate::operators::by_time::AtCompletedTimes;
use crate::plan::sinks::{Action, BatchAction, Handler, RouteTable};
use crate::sinks::LineSink;
use crate::sinks::resumed::Delivered;
use crate::store::Change;
use crate::value::write_json_string;

/// The route name counted for events no route takes.
pub const UNROUTED: &str = "unrouted";

/// Counters of a run's routing.
#[derive(Debug, Default)]
pub struct RouteStats {
    pub routed: AtomicU64,
    pub unrouted: AtomicU64,
    /// Handler invocations (a batch counts once).
    pub handled: AtomicU64,
    /// Changes each route took, by route name.
    by_route: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl RouteStats {
    /// Adds the changes each route took at one time (one lock per time, not per change).
    fn took(&self, taken: &BTreeMap<&str, u64>) {
        if taken.is_empty() {
            return;
        }
        self.routed
            .fetch_add(taken.values().sum(), Ordering::Relaxed);
        let mut by_route = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        for (route, n) in taken {
            match by_route.get_mut(*route) {
                Some(count) => *count += n,
                None => {
                    by_route.insert(route.to_string(), *n);
                }
            }
        }
    }

    /// The changes each route took so far, by route name.
    pub fn by_route(&self) -> Vec<(String, u64)> {
        let by_route = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        by_route.iter().map(|(r, n)| (r.clone(), *n)).collect()
    }
}

/// Where the dispatcher writes.
pub struct RouteOutputs {
    /// `<handler>.routed` for handlers whose action is `Log`.
    pub logs: BTreeMap<String, Arc<dyn LineSink>>,
    /// `routes.counts`.
    pub counts: Arc<dyn LineSink>,
}

/// The routing state of the one worker that routes.
pub struct Dispatcher {
    table: Arc<RouteTable>,
    outputs: RouteOutputs,
    stats: Arc<RouteStats>,
    delivered: Delivered,
    batches: BTreeMap<String, Vec<ChangeEvent>>,
    counts: BTreeMap<(u64, String, EventKind), u64>,
    /// Whether handlers run for the current time (false while a resumed run replays).
    live: bool,
}

impl Dispatcher {
    pub fn new(
        table: Arc<RouteTable>,
        outputs: RouteOutputs,
        stats: Arc<RouteStats>,
        delivered: Delivered,
    ) -> Dispatcher {
        Dispatcher {
            table,
            outputs,
            stats,
            delivered,
            batches: BTreeMap::new(),
            counts: BTreeMap::new(),
            live: true,
        }
    }

    /// Routes the events of `time` and writes the windows that closed.
    pub fn on_time(&mut self, time: u64, mut changes: Vec<Change>) {
        self.live = !self.delivered.covers(Some(time));
        changes.sort_by_key(|c| c.event.seq);
        let window = self.table.counts_window_ms;
        let table = self.table.clone();
        let mut taken: BTreeMap<&str, u64> = BTreeMap::new();
        let mut unrouted = 0;
        for change in changes.into_iter().filter(|c| !c.seeded) {
            let event = change.event;
            let route = table.route_of(&event);
            let name = route.map_or(UNROUTED, |r| r.name.as_str());
            let start = event.ts / window * window;
            *self
                .counts
                .entry((start, name.to_string(), event.kind))
                .or_default() += 1;
            let Some(route) = route else {
                unrouted += 1;
                continue;
            };
            *taken.entry(route.name.as_str()).or_default() += 1;
            for handler in &route.handlers {
                self.handle(time, &route.name, handler, &event);
            }
        }
        self.stats.took(&taken);
        self.stats.unrouted.fetch_add(unrouted, Ordering::Relaxed);
        // NB: the timely time is the watermark: later events have ts past `time`, unless
        // late, so every window ending by `time + 1` is complete.
        self.write_counts(Some(time), time.saturating_add(1));
    }

    /// Flushes batches and every window at the end of the input.
    pub fn on_end(&mut self) {
        self.live = true;
        let names: Vec<String> = self.batches.keys().cloned().collect();
        for name in names {
            self.flush_batch(None, &name);
        }
        self.write_counts(None, u64::MAX);
    }

    fn handle(&mut self, time: u64, route: &str, name: &str, event: &ChangeEvent) {
        let Some(handler) = self.table.handlers.get(name).cloned() else {
            return;
        };
        match handler {
            Handler::Each(action) => self.act(time, route, name, &action, event),
            Handler::Conditional { predicate, action } => {
                if predicate
                    .eval_predicate(&event.to_event_row())
                    .unwrap_or(false)
                {
                    self.act(time, route, name, &action, event);
                }
            }
            Handler::Batch {
                size, timeout_ms, ..
            } => {
                let expired = self
                    .batches
                    .get(name)
                    .and_then(|b| b.first())
                    .is_some_and(|first| event.ts >= first.ts.saturating_add(timeout_ms));
                if expired {
                    self.flush_batch(Some(time), name);
                }
                let batch = self.batches.entry(name.to_string()).or_default();
                batch.push(event.clone());
                if batch.len() >= size {
                    self.flush_batch(Some(time), name);
                }
            }
        }
    }

    fn act(&self, time: u64, route: &str, name: &str, action: &Action, event: &ChangeEvent) {
        self.stats.handled.fetch_add(1, Ordering::Relaxed);
        match action {
            Action::Log => {
                if let Some(log) = self.outputs.logs.get(name) {
                    let mut line = String::from("{\"route\":");
                    write_json_string(route, &mut line);
                    line.push_str(",\"handler\":");
                    write_json_string(name, &mut line);
                    line.push(',');
                    event_fields(event, &mut line);
                    line.push_str("}\n");
                    log.write_at(Some(time), &line);
                }
            }
            Action::Stdout if self.live => {
                println!("route {route} -> {name}: {}", event_json(event))
            }
            Action::Function(f) if self.live => f(event),
            _ => {}
        }
    }

    fn flush_batch(&mut self, time: Option<u64>, name: &str) {
        let Some(batch) = self.batches.remove(name).filter(|b| !b.is_empty()) else {
            return;
        };
        self.stats.handled.fetch_add(1, Ordering::Relaxed);
        match self.table.handlers.get(name) {
            Some(Handler::Batch {
                action: BatchAction::Function(f),
                ..
            }) if self.live => f(&batch),
            Some(Handler::Batch {
                action: BatchAction::Log,
                ..
            }) => {
                if let Some(log) = self.outputs.logs.get(name) {
                    let mut line = String::from("{\"handler\":");
                    write_json_string(name, &mut line);
                    line.push_str(",\"events\":[");
                    for (i, event) in batch.iter().enumerate() {
                        if i > 0 {
                            line.push(',');
                        }
                        line.push_str(&event_json(event));
                    }
                    line.push_str("]}\n");
                    log.write_at(time, &line);
                }
            }
            _ => {}
        }
    }

    fn write_counts(&mut self, time: Option<u64>, until: u64) {
        let window = self.table.counts_window_ms;
        let closed: Vec<_> = self
            .counts
            .keys()
            .filter(|(start, _, _)| start.saturating_add(window) <= until)
            .cloned()
            .collect();
        let mut text = String::new();
        for key in closed {
            let Some(count) = self.counts.remove(&key) else {
                continue;
            };
            let (start, route, kind) = key;
            text.push_str(&format!(
                "{{\"window_start\":{start},\"window_end\":{},\"route\":",
                start + window
            ));
            write_json_string(&route, &mut text);
            text.push_str(&format!(
                ",\"kind\":\"{}\",\"count\":{count}}}\n",
                kind.name()
            ));
        }
        if !text.is_empty() {
            self.outputs.counts.write_at(time, &text);
        }
    }
}

fn event_fields(event: &ChangeEvent, out: &mut String) {
    out.push_str("\"key\":");
    write_json_string(&event.key, out);
    out.push_str(&format!(
        ",\"kind\":\"{}\",\"ts\":{},\"seq\":{},\"value\":",
        event.kind.name(),
        event.ts,
        event.seq
    ));
    event.new.write_json(out);
    out.push_str(",\"old\":");
    event.old.write_json(out);
}

/// An event as a JSON object.
pub fn event_json(event: &ChangeEvent) -> String {
    let mut out = String::from("{");
    event_fields(event, &mut out);
    out.push('}');
    out
}

/// Routes every change on worker 0, so handlers see one order: (time, seq).
pub fn route_changes<'scope>(
    changes: Stream<'scope, u64, Vec<Change>>,
    dispatcher: Dispatcher,
) -> Stream<'scope, u64, Vec<()>> {
    let shared = Rc::new(RefCell::new(dispatcher));
    let at_end = shared.clone();
    changes.at_completed_times(
        Exchange::new(|_: &Change| 0),
        "Routes",
        // NB: a handler's line shows the event's `old`, which the store may have deferred.
        |change: Change, batch_time| (batch_time, change.with_old()),
        move |time, changes: &mut Vec<Change>| {
            shared.borrow_mut().on_time(time, std::mem::take(changes))
        },
        move || at_end.borrow_mut().on_end(),
    )
}
