//! The open sessions of one group: an insert joins or merges the sessions it touches (a
//! bridging event merges two), a retraction may shrink or split one; every change is told
//! to the [`Emitter`].

use super::emit::Emitter;
use differential_dataflow::difference::Semigroup;
use smallvec::SmallVec;

use crate::operators::aggregate::AggDiff;
use crate::plan::AggFunc;
use crate::value::Row;
use crate::value::row_pool::recycle;

#[derive(Clone, Debug)]
pub(super) struct Session {
    pub(super) start: u64,
    pub(super) last: u64,
    pub(super) rows: Vec<(u64, Row, i64)>,
    /// The session's aggregate, kept when every aggregate is abelian.
    pub(super) acc: AggDiff,
    /// Its contribution is downstream. A `final` session is held back until its emit time
    /// (see `Emitter::emit_session`), so events that grow it cost no output.
    pub(super) emitted: bool,
}

impl Session {
    /// The session's end, `last + gap` (saturating: see `plan::bounds`).
    pub(super) fn end(&self, gap: u64) -> u64 {
        self.last.saturating_add(gap)
    }
}

/// The open sessions of one group, sorted by start, and the times the group is filed under
/// in the operator's schedules (see `schedule`).
///
/// NB: most groups hold one session at a time (sessions per key over 1M keys: about 1.4 a
/// key over the whole input), so the first is kept inline: a group's state allocates
/// nothing until a second session opens beside it.
#[derive(Debug, Default)]
pub(super) struct GroupSessions {
    pub(super) sessions: SmallVec<[Session; 1]>,
    pub(super) due_at: Option<u64>,
    pub(super) release_at: Option<u64>,
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
    pub(super) fn insert(&mut self, ts: u64, args: Row, diff: i64, emit: &mut Emitter) {
        let gap = emit.gap;
        let touching = self.touching(ts, gap);
        if touching.len() == 1 {
            let s = &mut self.sessions[touching.start];
            if s.start <= ts && ts <= s.last {
                emit.emit_one(s, &args, diff);
                if let Some(funcs) = emit.funcs {
                    s.acc.add_row(funcs, &args.0[1..], diff);
                }
                if emit.keep_rows {
                    s.rows.push((ts, args, diff));
                } else {
                    recycle(args);
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
            recycle(args);
            Vec::new()
        };
        let mut merged = Session {
            start: ts,
            last: ts,
            acc,
            rows,
            emitted: false,
        };
        for mut old in self.sessions.drain(touching).rev() {
            emit.emit_session(&mut old, -1);
            merged.start = merged.start.min(old.start);
            merged.last = merged.last.max(old.last);
            merged.acc.plus_equals(&old.acc);
            merged.rows.extend(old.rows);
        }
        emit.emit_session(&mut merged, 1);
        let at = self.sessions.partition_point(|s| s.start < merged.start);
        self.sessions.insert(at, merged);
    }

    /// The sessions an event at `ts` touches (joins or bridges): the sessions are sorted and
    /// more than `gap` apart, so those within `gap` of `ts` are a contiguous run.
    fn touching(&self, ts: u64, gap: u64) -> std::ops::Range<usize> {
        let first = self
            .sessions
            .partition_point(|s| s.last.saturating_add(gap) < ts);
        let end = self.sessions[first..]
            .iter()
            .take_while(|s| s.start <= ts.saturating_add(gap))
            .count();
        first..first + end
    }

    pub(super) fn retract(&mut self, ts: u64, args: &Row, diff: i64, emit: &mut Emitter) {
        let Some(index) = self
            .sessions
            .iter()
            .position(|s| s.start <= ts && ts <= s.last)
        else {
            return;
        };
        let mut old = self.sessions.remove(index);
        // A retraction from an expired session changes nothing visible (as for fixed
        // windows); the parts of an open one are all emitted, even those expired at birth.
        let expired = emit.is_expired(&old);
        emit.emit_session(&mut old, -1);
        let mut rows = old.rows;
        if let Some(pos) = rows.iter().position(|(t, a, _)| *t == ts && a == args) {
            rows[pos].2 += diff;
            if rows[pos].2 <= 0 {
                rows.remove(pos);
            }
        }
        rows.sort_by_key(|r| r.0);
        for mut session in split_by_gap(rows, emit.gap, emit.funcs) {
            if expired {
                emit.emit_session(&mut session, 1);
            } else {
                emit.emit_split(&mut session);
            }
            let at = self.sessions.partition_point(|s| s.start < session.start);
            self.sessions.insert(at, session);
        }
    }

    /// Emits the held-back sessions due before `bound`; returns the earliest emit time of
    /// those still held back.
    pub(super) fn emit_due(&mut self, bound: u64, emit: &mut Emitter) -> Option<u64> {
        let mut next = None::<u64>;
        for session in self.sessions.iter_mut().filter(|s| !s.emitted) {
            let due = emit.timing.emit_time(session.end(emit.gap));
            if due < bound {
                emit.emit_due(session);
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        next
    }

    /// Drops sessions no future row can touch, telling `on_release` each one's bounds
    /// `(start, end)`. A held-back session stays until it has been emitted.
    pub(super) fn release(
        &mut self,
        frontier: u64,
        gap: u64,
        lateness: u64,
        mut on_release: impl FnMut(u64, u64),
    ) {
        self.sessions.retain(|s| {
            let s = &*s;
            let keep = !s.emitted || release_bound(s, gap, lateness) >= frontier;
            if !keep {
                on_release(s.start, s.end(gap));
            }
            keep
        });
    }

    /// The earliest bound past which `release` drops an emitted session (a held-back one
    /// is filed again once emitted).
    pub(super) fn next_release(&self, gap: u64, lateness: u64) -> Option<u64> {
        let emitted = self.sessions.iter().filter(|s| s.emitted);
        emitted.map(|s| release_bound(s, gap, lateness)).min()
    }
}

/// A session is released once the frontier is past `end + lateness`.
fn release_bound(session: &Session, gap: u64, lateness: u64) -> u64 {
    session.end(gap).saturating_add(lateness)
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
                emitted: false,
            }),
        }
    }
    for session in &mut sessions {
        session.acc = accumulate(&session.rows, funcs);
    }
    sessions
}
