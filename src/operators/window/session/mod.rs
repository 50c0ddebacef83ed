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

use foldhash::{HashMap, HashMapExt};

use differential_dataflow::VecCollection;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

use super::WindowTiming;
use super::future::FutureFold;
pub use super::future::SessionOut;
use crate::operators::by_time::HeldByTime;
use crate::plan::AggFunc;
use crate::store::stable_hash;
use crate::value::Row;
use emit::Emitter;
use groups::GroupSessions;

/// A row entering the session operator: its group, its event time and its aggregate args.
pub type SessionRow = (Row, u64, Row);

/// Assigns rows to per-group sessions. With `abelian_funcs`, emits one accumulated
/// difference per session change keyed by `(window_start, window_end, group..)`; otherwise
/// the rows themselves as `((window_start, window_end, group..), args)`. An `append_only`
/// input never retracts, so with abelian aggregates sessions keep no rows.
pub fn sessionize<'scope>(
    rows: VecCollection<'scope, u64, SessionRow, i64>,
    gap: u64,
    timing: WindowTiming,
    abelian_funcs: Option<Vec<AggFunc>>,
    append_only: bool,
) -> Stream<'scope, u64, Vec<SessionOut>> {
    let exchange = Exchange::new(|(row, _, _): &(SessionRow, u64, i64)| row_hash(&row.0));
    let settings = Settings {
        gap,
        timing,
        keep_rows: abelian_funcs.is_none() || !append_only,
        funcs: abelian_funcs,
    };
    rows.inner
        .unary_frontier(exchange, "SessionWindow", move |_cap, _info| {
            let mut pending: HeldByTime<Vec<(SessionRow, i64)>> = HeldByTime::default();
            let mut groups: HashMap<Row, GroupSessions> = HashMap::new();
            let mut future = FutureFold::default();
            let mut out = Vec::new();
            // Sessions held back until their emit time, and a capability to emit them.
            let mut held: Option<Capability<u64>> = None;
            let mut next_due: Option<u64> = None;
            move |(input, frontier), output| {
                input.for_each(|cap, data| pending.hold_updates(&cap, data));
                while let Some((time, cap, mut updates)) = pending.next_completed(frontier) {
                    if next_due.is_some_and(|due| due < time)
                        && let Some(held_cap) = &held
                    {
                        next_due = emit_all_due(&mut groups, time, &mut out, &settings);
                        for update in out.drain(..) {
                            future.add(held_cap, update);
                        }
                    }
                    if !append_only {
                        // NB: consolidate first (a row inserted and retracted within one
                        // batch cancels), then retractions before insertions, so a row
                        // updated in place never merges with itself.
                        consolidate_updates(&mut updates);
                        updates.sort_by_key(|(_, d)| *d > 0);
                    }
                    for ((group, ts, args), diff) in updates {
                        if !groups.contains_key(&group) {
                            groups.insert(group.clone(), GroupSessions::default());
                        }
                        let Some(state) = groups.get_mut(&group) else {
                            continue;
                        };
                        let mut emitter = settings.emitter(&group, time, &mut out);
                        if diff > 0 {
                            state.insert(ts, args, diff, &mut emitter);
                        } else {
                            state.retract(ts, &args, diff, &mut emitter);
                        }
                        if let Some(due) = emitter.held_back {
                            next_due = Some(next_due.map_or(due, |n| n.min(due)));
                            if held.as_ref().is_none_or(|h| *h.time() > due) {
                                held = Some(cap.delayed(&due));
                            }
                        }
                    }
                    for update in out.drain(..) {
                        future.add(&cap, update);
                    }
                }
                let bound = frontier.frontier().first().copied().unwrap_or(u64::MAX);
                if next_due.is_some_and(|due| due < bound)
                    && let Some(held_cap) = &held
                {
                    next_due = emit_all_due(&mut groups, bound, &mut out, &settings);
                    for update in out.drain(..) {
                        future.add(held_cap, update);
                    }
                }
                match (next_due, &mut held) {
                    (Some(due), Some(cap)) => cap.downgrade(&due),
                    _ => held = None,
                }
                // NB: each update carries its own time; sending every completed time's
                // updates in one message, at the earliest one's capability, costs one
                // container instead of one per distinct time (a large batch completes
                // thousands of session end times at once).
                let mut earliest = None;
                let mut completed = Vec::new();
                while let Some((cap, updates)) = future.next_completed(frontier) {
                    earliest.get_or_insert(cap);
                    completed.extend(updates);
                }
                if let Some(cap) = earliest {
                    output.session(&cap).give_container(&mut completed);
                }
                if let Some(&f) = frontier.frontier().first() {
                    groups.retain(|_, s| !s.release(f, gap, settings.timing.allowed_lateness));
                }
            }
        })
}

/// What every group's emitter shares.
struct Settings {
    gap: u64,
    timing: WindowTiming,
    funcs: Option<Vec<AggFunc>>,
    keep_rows: bool,
}

impl Settings {
    fn emitter<'a>(
        &'a self,
        group: &'a Row,
        time: u64,
        out: &'a mut Vec<SessionOut>,
    ) -> Emitter<'a> {
        Emitter {
            group,
            gap: self.gap,
            timing: self.timing,
            time,
            funcs: self.funcs.as_deref(),
            keep_rows: self.keep_rows,
            out,
            held_back: None,
        }
    }
}

/// Emits every held-back session due before `bound`; returns the next due time.
fn emit_all_due(
    groups: &mut HashMap<Row, GroupSessions>,
    bound: u64,
    out: &mut Vec<SessionOut>,
    settings: &Settings,
) -> Option<u64> {
    let mut next = None::<u64>;
    for (group, sessions) in groups.iter_mut() {
        let mut emitter = settings.emitter(group, bound, out);
        if let Some(due) = sessions.emit_due(bound, &mut emitter) {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    next
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

fn row_hash(row: &Row) -> u64 {
    stable_hash(row)
}
