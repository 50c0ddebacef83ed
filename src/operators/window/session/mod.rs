//! Session windows: a dedicated operator with per-group open-session state.
//!
//! Each group (routed to one worker by its hash) keeps its open sessions and their rows. When
//! the frontier passes a time, the updates at that time are applied in order: an insert joins
//! or merges the sessions it touches (a bridging event merges two), a retraction (table view)
//! may shrink or split one. Each change to a row's session is emitted as a contribution pair
//! (see [`WindowTiming`]): inserted at the session's emit time and retracted at its expiry,
//! or the negation of that pair when a row leaves a session. So the sessions' aggregates are
//! computed by the same aggregation as fixed windows, and a closed session's state is dropped
//! here once no future row can touch it.
//!
//! With `final` emission a session's contribution is held back until its emit time (the
//! operator keeps a capability for the earliest one), so a session that grows over many
//! batches is emitted once instead of being retracted and re-inserted per event. Updates
//! stamped in the future are folded per time and key ([`FutureFold`]) before they leave.

mod emit;
mod groups;
mod interned;
mod open;
mod schedule;
mod shown;

use differential_dataflow::VecCollection;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

use super::WindowTiming;
use crate::operators::by_time::HeldByTime;
use crate::operators::state_gauge::StateGauge;
use crate::operators::total::FinishTotal;
use crate::plan::AggFunc;
use crate::store::{key_hash, stable_hash};
use crate::value::{Row, Value};
use open::{OpenSessions, Settings};
use shown::ShownTotals;

/// A row entering the session operator: its group, its event time and its aggregate args.
pub type SessionRow = (Row, u64, Row);

/// What leaves the session operator: rows assigned to sessions, keyed by
/// `(window_start, window_end, group..)`, or, for abelian aggregates, updates of each
/// session's finished row.
#[derive(Clone, Debug)]
pub enum SessionUpdate {
    Row((Row, Row), u64, i64),
    Total(Row, u64, i64),
}

/// Assigns rows to per-group sessions. With `abelian` aggregates, folds one accumulated
/// difference per session change keyed by `(window_start, window_end, group..)` into the
/// session's running total and emits the updates of `finish(key, total)` (a session lives on
/// its group's worker, so its total does too); otherwise emits the rows themselves. An
/// `append_only` input never retracts, so with abelian aggregates sessions keep no rows.
pub fn sessionize<'scope>(
    rows: VecCollection<'scope, u64, SessionRow, i64>,
    gap: u64,
    timing: WindowTiming,
    abelian: Option<(Vec<AggFunc>, FinishTotal)>,
    append_only: bool,
) -> Stream<'scope, u64, Vec<SessionUpdate>> {
    let exchange = Exchange::new(|(row, _, _): &(SessionRow, u64, i64)| row_hash(&row.0));
    let (abelian_funcs, finish) = abelian.unzip();
    let settings = Settings {
        gap,
        timing,
        keep_rows: abelian_funcs.is_none() || !append_only,
        funcs: abelian_funcs,
    };
    rows.inner
        .unary_frontier(exchange, "SessionWindow", move |_cap, info| {
            let gauge = StateGauge::for_operator(info.global_id);
            let mut pending: HeldByTime<Vec<(SessionRow, i64)>> = HeldByTime::default();
            let mut state = OpenSessions::new(settings, finish.map(ShownTotals::new));
            let mut ready = Vec::new();
            // A capability to emit sessions held back until their emit time.
            let mut held: Option<Capability<u64>> = None;
            move |(input, frontier), output| {
                input.for_each(|cap, data| pending.hold_updates(&cap, data));
                while let Some((time, cap, mut updates)) = pending.next_completed(frontier) {
                    // NB: close what the batch's time has passed before applying it, so what
                    // a batch finds open does not depend on how many batches an activation
                    // sees.
                    state.close_before(time, held.as_ref(), &mut ready);
                    if let Some(held) = held.as_ref().filter(|_| !ready.is_empty()) {
                        output.session(held).give_container(&mut ready);
                    }
                    if !append_only {
                        // NB: consolidate first (a row inserted and retracted within one
                        // batch cancels), then retractions before insertions, so a row
                        // updated in place never merges with itself.
                        consolidate_updates(&mut updates);
                        updates.sort_by_key(|(_, d)| *d > 0);
                    }
                    for (row, diff) in updates {
                        if let Some(due) = state.apply(row, diff, time, &cap)
                            && held.as_ref().is_none_or(|h| *h.time() > due)
                        {
                            held = Some(cap.delayed(&due));
                        }
                    }
                    state.flush_totals(&mut ready);
                    if !ready.is_empty() {
                        output.session(&cap).give_container(&mut ready);
                    }
                }
                let open = frontier.frontier().first().copied();
                let bound = open.unwrap_or(u64::MAX);
                state.emit_due_before(bound, held.as_ref(), open.is_some());
                state.flush_totals(&mut ready);
                if let Some(held) = held.as_ref().filter(|_| !ready.is_empty()) {
                    output.session(held).give_container(&mut ready);
                }
                match (state.next_due(), &mut held) {
                    (Some(due), Some(cap)) => cap.downgrade(&due),
                    _ => held = None,
                }
                // NB: each update carries its own time; every completed time's updates go
                // in one message, at a capability no later than the earliest (a large batch
                // completes thousands of session end times at once).
                state.complete_rows(frontier, &mut ready);
                if let Some(cap) = state.rows_capability()
                    && !ready.is_empty()
                {
                    output.session(cap).give_container(&mut ready);
                }
                state.settle_rows();
                if let Some(&f) = frontier.frontier().first() {
                    state.release_before(f);
                }
                if let Some(gauge) = &gauge {
                    gauge.set(state.groups());
                }
            }
        })
}

/// Sums the diffs of equal rows and drops those that cancel.
fn consolidate_updates(updates: &mut Vec<(SessionRow, i64)>) {
    updates.sort();
    let mut merged: Vec<(SessionRow, i64)> = Vec::with_capacity(updates.len());
    for (row, diff) in updates.drain(..) {
        match merged.last_mut() {
            Some((last, d)) if *last == row => *d += diff,
            _ => merged.push((row, diff)),
        }
    }
    merged.retain(|(_, d)| *d != 0);
    *updates = merged;
}

/// The worker of a group. NB: a group that is one string (sessions per key) hashes as the
/// store routes its key, so a key's rows stay on the worker whose shard produced them.
fn row_hash(row: &Row) -> u64 {
    group_hash(&row.0)
}

/// The hash that places a session group's values on a worker: the sink of a session window
/// routes its rows by it too, so they are written on the worker that made them.
pub fn group_hash(group: &[Value]) -> u64 {
    match group {
        [Value::Str(key)] => key_hash(key),
        _ => stable_hash(group),
    }
}
