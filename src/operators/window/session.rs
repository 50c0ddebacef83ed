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

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use differential_dataflow::VecCollection;
use differential_dataflow::difference::{Abelian, Semigroup};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;

use super::WindowTiming;
use super::future::FutureFold;
use crate::operators::aggregate::AggDiff;
use crate::plan::AggFunc;
use crate::sinks::Pending;
use crate::store::stable_hash;
use crate::value::{Row, Value};

/// A row entering the session operator: its group, its event time and its aggregate args.
pub type SessionRow = (Row, u64, Row);

/// What the session operator emits: rows assigned to sessions, or, when every aggregate is
/// abelian, one accumulated difference per session change (so a growing session costs O(1)
/// per event instead of re-emitting its rows).
#[derive(Clone, Debug)]
pub enum SessionOut {
    Row((Row, Row), u64, i64),
    Acc(Row, u64, AggDiff),
}

#[derive(Clone, Debug)]
struct Session {
    start: u64,
    last: u64,
    rows: Vec<(u64, Row, i64)>,
    /// The session's aggregate, kept when every aggregate is abelian.
    acc: AggDiff,
}

/// The open sessions of one group, sorted by start.
#[derive(Debug, Default)]
struct GroupSessions {
    sessions: Vec<Session>,
}

/// Emits contribution pairs for rows as they join or leave sessions.
struct Emitter<'a> {
    group: &'a Row,
    gap: u64,
    timing: WindowTiming,
    time: u64,
    /// `Some` when aggregates are abelian: emit accumulators, not rows.
    funcs: Option<&'a [AggFunc]>,
    /// Sessions keep their rows (needed to emit rows, or to split on a retraction).
    keep_rows: bool,
    out: &'a mut Vec<SessionOut>,
}

impl Emitter<'_> {
    fn key(&self, session: &Session) -> (Row, u64, u64) {
        let end = session.last + self.gap;
        let (insert, release) = self.timing.contribution_times(self.time, end);
        let mut key = Vec::with_capacity(self.group.0.len() + 2);
        key.push(Value::Int(session.start as i64));
        key.push(Value::Int(end as i64));
        key.extend(self.group.0.iter().cloned());
        (Row(key), insert, release)
    }

    fn emit_session(&mut self, session: &Session, sign: i64) {
        let (key, insert, release) = self.key(session);
        if insert == release {
            return;
        }
        self.emit_session_at(session, sign, key, insert, release);
    }

    /// A session split off an open one by a retraction may already be past its expiry:
    /// closed at birth. Its rows are on time and in no other session, so it is emitted now
    /// (a correction) and released an instant later, instead of being dropped.
    fn emit_split(&mut self, session: &Session) {
        let (key, insert, release) = self.key(session);
        let (insert, release) = if insert == release {
            (self.time, self.time + 1)
        } else {
            (insert, release)
        };
        self.emit_session_at(session, 1, key, insert, release);
    }

    /// Whether a session is past its expiry (changes to it are no longer shown).
    fn is_expired(&self, session: &Session) -> bool {
        let (_, insert, release) = self.key(session);
        insert == release
    }

    fn emit_session_at(
        &mut self,
        session: &Session,
        sign: i64,
        key: Row,
        insert: u64,
        release: u64,
    ) {
        if self.funcs.is_some() {
            let mut acc = session.acc.clone();
            if sign < 0 {
                acc.negate();
            }
            self.emit_acc(key, acc, insert, release);
        } else {
            for (_, args, d) in &session.rows {
                self.emit_row(&key, args, d * sign, insert, release);
            }
        }
    }

    fn emit_acc(&mut self, key: Row, acc: AggDiff, insert: u64, release: u64) {
        let mut negated = acc.clone();
        negated.negate();
        self.out.push(SessionOut::Acc(key.clone(), insert, acc));
        self.out.push(SessionOut::Acc(key, release, negated));
    }

    fn emit_row(&mut self, key: &Row, args: &Row, diff: i64, insert: u64, release: u64) {
        self.out
            .push(SessionOut::Row((key.clone(), args.clone()), insert, diff));
        self.out
            .push(SessionOut::Row((key.clone(), args.clone()), release, -diff));
    }

    /// One row joins (or leaves) a session whose bounds do not change.
    fn emit_one(&mut self, session: &Session, args: &Row, diff: i64) {
        let (key, insert, release) = self.key(session);
        if insert == release {
            return;
        }
        match self.funcs {
            Some(funcs) => {
                let mut acc = AggDiff::default();
                acc.add_row(funcs, &args.0[1..], diff);
                self.emit_acc(key, acc, insert, release);
            }
            None => self.emit_row(&key, args, diff, insert, release),
        }
    }
}

fn accumulate(rows: &[(u64, Row, i64)], funcs: Option<&[AggFunc]>) -> AggDiff {
    let mut acc = AggDiff::default();
    if let Some(funcs) = funcs {
        for (_, args, d) in rows {
            acc.add_row(funcs, &args.0[1..], *d);
        }
    }
    acc
}

impl GroupSessions {
    fn insert(&mut self, ts: u64, args: Row, diff: i64, emit: &mut Emitter) {
        let gap = emit.gap;
        let touching: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| {
                let s = &self.sessions[i];
                s.start <= ts.saturating_add(gap) && ts <= s.last.saturating_add(gap)
            })
            .collect();
        if let [only] = touching[..] {
            let s = &mut self.sessions[only];
            if s.start <= ts && ts <= s.last {
                emit.emit_one(s, &args, diff);
                if let Some(funcs) = emit.funcs {
                    s.acc.add_row(funcs, &args.0[1..], diff);
                }
                if emit.keep_rows {
                    s.rows.push((ts, args, diff));
                }
                return;
            }
        }
        let mut acc = AggDiff::default();
        if let Some(funcs) = emit.funcs {
            acc.add_row(funcs, &args.0[1..], diff);
        }
        let rows = if emit.keep_rows {
            vec![(ts, args, diff)]
        } else {
            Vec::new()
        };
        let mut merged = Session {
            start: ts,
            last: ts,
            acc,
            rows,
        };
        for &i in touching.iter().rev() {
            let old = self.sessions.remove(i);
            emit.emit_session(&old, -1);
            merged.start = merged.start.min(old.start);
            merged.last = merged.last.max(old.last);
            merged.acc.plus_equals(&old.acc);
            merged.rows.extend(old.rows);
        }
        emit.emit_session(&merged, 1);
        let at = self.sessions.partition_point(|s| s.start < merged.start);
        self.sessions.insert(at, merged);
    }

    fn retract(&mut self, ts: u64, args: &Row, diff: i64, emit: &mut Emitter) {
        let Some(index) = self
            .sessions
            .iter()
            .position(|s| s.start <= ts && ts <= s.last)
        else {
            return;
        };
        let old = self.sessions.remove(index);
        // A retraction from an expired session changes nothing visible (as for fixed
        // windows); the parts of an open one are all emitted, even those expired at birth.
        let expired = emit.is_expired(&old);
        emit.emit_session(&old, -1);
        let mut rows = old.rows;
        if let Some(pos) = rows.iter().position(|(t, a, _)| *t == ts && a == args) {
            rows[pos].2 += diff;
            if rows[pos].2 <= 0 {
                rows.remove(pos);
            }
        }
        rows.sort_by_key(|r| r.0);
        for session in split_by_gap(rows, emit.gap, emit.funcs) {
            if expired {
                emit.emit_session(&session, 1);
            } else {
                emit.emit_split(&session);
            }
            let at = self.sessions.partition_point(|s| s.start < session.start);
            self.sessions.insert(at, session);
        }
    }

    /// Drops sessions no future row can touch; true when none is left.
    fn release(&mut self, frontier: u64, gap: u64, lateness: u64) -> bool {
        self.sessions
            .retain(|s| s.last.saturating_add(gap).saturating_add(lateness) >= frontier);
        self.sessions.is_empty()
    }
}

/// Splits rows sorted by ts into sessions: a difference of more than `gap` starts a new one.
fn split_by_gap(rows: Vec<(u64, Row, i64)>, gap: u64, funcs: Option<&[AggFunc]>) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    for row in rows {
        match sessions.last_mut() {
            Some(s) if row.0 <= s.last.saturating_add(gap) => {
                s.last = s.last.max(row.0);
                s.rows.push(row);
            }
            _ => sessions.push(Session {
                start: row.0,
                last: row.0,
                rows: vec![row],
                acc: AggDiff::default(),
            }),
        }
    }
    for session in &mut sessions {
        session.acc = accumulate(&session.rows, funcs);
    }
    sessions
}

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
    let keep_rows = abelian_funcs.is_none() || !append_only;
    rows.inner
        .unary_frontier(exchange, "SessionWindow", move |_cap, _info| {
            let mut pending: BTreeMap<u64, Pending<SessionRow>> = BTreeMap::new();
            let mut groups: HashMap<Row, GroupSessions> = HashMap::new();
            let mut future = FutureFold::default();
            let mut out = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for (row, t, d) in data.drain(..) {
                        pending
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()))
                            .1
                            .push((row, d));
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    let time = *entry.key();
                    if frontier.less_equal(&time) {
                        break;
                    }
                    let (cap, mut updates) = entry.remove();
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
                        let mut emitter = Emitter {
                            group: &group,
                            gap,
                            timing,
                            time,
                            funcs: abelian_funcs.as_deref(),
                            keep_rows,
                            out: &mut out,
                        };
                        if diff > 0 {
                            state.insert(ts, args, diff, &mut emitter);
                        } else {
                            state.retract(ts, &args, diff, &mut emitter);
                        }
                    }
                    for update in out.drain(..) {
                        future.add(&cap, update);
                    }
                }
                for (cap, updates) in future.take_complete(|t| !frontier.less_equal(&t)) {
                    output.session(&cap).give_iterator(updates.into_iter());
                }
                if let Some(&f) = frontier.frontier().first() {
                    groups.retain(|_, s| !s.release(f, gap, timing.allowed_lateness));
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

fn row_hash(row: &Row) -> u64 {
    stable_hash(row)
}
