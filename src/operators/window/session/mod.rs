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
mod schedule;

use foldhash::{HashMap, HashMapExt};

use differential_dataflow::VecCollection;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

use super::WindowTiming;
use super::future::FutureFold;
use super::future::SessionOut;
use crate::operators::aggregate::AggDiff;
use crate::operators::by_time::HeldByTime;
use crate::operators::total::{FinishTotal, Totals};
use crate::plan::AggFunc;
use crate::store::stable_hash;
use crate::value::Row;
use emit::Emitter;
use groups::GroupSessions;
use schedule::Schedule;

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
        .unary_frontier(exchange, "SessionWindow", move |_cap, _info| {
            let mut pending: HeldByTime<Vec<(SessionRow, i64)>> = HeldByTime::default();
            let mut state = OpenSessions::new(settings);
            let mut future = FutureFold::default();
            let mut totals = Totals::default();
            let mut out = Vec::new();
            // A capability to emit sessions held back until their emit time.
            let mut held: Option<Capability<u64>> = None;
            move |(input, frontier), output| {
                input.for_each(|cap, data| pending.hold_updates(&cap, data));
                while let Some((time, cap, mut updates)) = pending.next_completed(frontier) {
                    // NB: close what the batch's time has passed before applying it, so what
                    // a batch finds open does not depend on how many batches an activation
                    // sees.
                    state.close_before(time, held.as_ref(), &mut future);
                    if !append_only {
                        // NB: consolidate first (a row inserted and retracted within one
                        // batch cancels), then retractions before insertions, so a row
                        // updated in place never merges with itself.
                        consolidate_updates(&mut updates);
                        updates.sort_by_key(|(_, d)| *d > 0);
                    }
                    for (row, diff) in updates {
                        if let Some(due) = state.apply(row, diff, time, &mut out)
                            && held.as_ref().is_none_or(|h| *h.time() > due)
                        {
                            held = Some(cap.delayed(&due));
                        }
                    }
                    for update in out.drain(..) {
                        future.add(&cap, update);
                    }
                }
                let bound = frontier.frontier().first().copied().unwrap_or(u64::MAX);
                state.emit_due_before(bound, held.as_ref(), &mut future);
                match (state.due.first(), &mut held) {
                    (Some(due), Some(cap)) => cap.downgrade(&due),
                    _ => held = None,
                }
                // NB: each update carries its own time; every completed time's updates go
                // in one message, at a capability no later than the earliest (a large batch
                // completes thousands of session end times at once).
                let mut completed = Vec::new();
                while let Some(updates) = future.next_completed(frontier) {
                    complete(updates, &mut totals, finish.as_ref(), &mut completed);
                }
                if let Some(cap) = future.capability()
                    && !completed.is_empty()
                {
                    output.session(cap).give_container(&mut completed);
                }
                future.settle();
                if let Some(&f) = frontier.frontier().first() {
                    state.release_before(f);
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

/// Every group's open sessions, and which groups need a visit when: held-back sessions
/// falling due, closed sessions to release (a group with none left is dropped at once).
struct OpenSessions {
    groups: HashMap<Row, GroupSessions>,
    due: Schedule,
    release: Schedule,
    settings: Settings,
}

impl OpenSessions {
    fn new(settings: Settings) -> Self {
        OpenSessions {
            groups: HashMap::new(),
            due: Schedule::default(),
            release: Schedule::default(),
            settings,
        }
    }

    /// Applies one update of the batch at `time`; returns the emit time of a session it
    /// held back.
    fn apply(
        &mut self,
        (group, ts, args): SessionRow,
        diff: i64,
        time: u64,
        out: &mut Vec<SessionOut>,
    ) -> Option<u64> {
        let settings = &self.settings;
        let state = self.groups.entry(group.clone()).or_default();
        let mut emitter = settings.emitter(&group, time, out);
        if diff > 0 {
            state.insert(ts, args, diff, &mut emitter);
        } else {
            state.retract(ts, &args, diff, &mut emitter);
        }
        let held_back = emitter.held_back;
        if let Some(due) = held_back {
            self.due.file(&group, due, &mut state.due_at);
        }
        self.file_release(&group);
        held_back
    }

    /// Emits the sessions due before `time` and releases those closed before it.
    fn close_before(&mut self, time: u64, held: Option<&Capability<u64>>, future: &mut FutureFold) {
        self.emit_due_before(time, held, future);
        self.release_before(time);
    }

    /// Emits every held-back session due before `bound`, at the held capability.
    fn emit_due_before(
        &mut self,
        bound: u64,
        held: Option<&Capability<u64>>,
        future: &mut FutureFold,
    ) {
        let Some(held) = held.filter(|_| self.due.has_before(bound)) else {
            return;
        };
        let mut out = Vec::new();
        let taken: Vec<(u64, Row)> = self.due.take_before(bound).collect();
        for (filed, group) in taken {
            let Some(state) = self.groups.get_mut(&group) else {
                continue;
            };
            if state.due_at != Some(filed) {
                continue;
            }
            state.due_at = None;
            let mut emitter = self.settings.emitter(&group, bound, &mut out);
            if let Some(next) = state.emit_due(bound, &mut emitter) {
                self.due.file(&group, next, &mut state.due_at);
            }
            self.file_release(&group);
        }
        for update in out {
            future.add(held, update);
        }
    }

    /// Drops the sessions no row at or after `bound` can touch, and groups left empty.
    fn release_before(&mut self, bound: u64) {
        let (gap, lateness) = (self.settings.gap, self.settings.timing.allowed_lateness);
        let taken: Vec<(u64, Row)> = self.release.take_before(bound).collect();
        for (filed, group) in taken {
            let Some(state) = self.groups.get_mut(&group) else {
                continue;
            };
            if state.release_at != Some(filed) {
                continue;
            }
            state.release_at = None;
            state.release(bound, gap, lateness);
            self.file_release(&group);
        }
    }

    /// Files `group` for its next release, or drops it if it has no session left.
    fn file_release(&mut self, group: &Row) {
        let (gap, lateness) = (self.settings.gap, self.settings.timing.allowed_lateness);
        let Some(state) = self.groups.get_mut(group) else {
            return;
        };
        if state.sessions.is_empty() {
            self.groups.remove(group);
        } else if let Some(at) = state.next_release(gap, lateness) {
            self.release.file(group, at, &mut state.release_at);
        }
    }
}

/// Turns one complete time's folded updates into what leaves: rows as they are, abelian
/// differences applied to the sessions' running totals as updates of their finished rows.
fn complete(
    updates: Vec<SessionOut>,
    totals: &mut Totals,
    finish: Option<&FinishTotal>,
    completed: &mut Vec<SessionUpdate>,
) {
    let mut accs: Vec<(Row, AggDiff)> = Vec::new();
    let mut time = 0;
    for update in updates {
        match update {
            SessionOut::Row(keyed, t, d) => completed.push(SessionUpdate::Row(keyed, t, d)),
            SessionOut::Acc(key, t, acc) => {
                time = t;
                accs.push((key, acc));
            }
        }
    }
    if let Some(finish) = finish {
        totals.apply_netted(accs, &mut |key, total, diff| {
            completed.push(SessionUpdate::Total(finish(key, total), time, diff));
        });
    }
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
