//! Emitting session contributions: each session change becomes a pair of updates (the
//! session's rows inserted at its emit time, retracted at its expiry; for abelian aggregates
//! the insertion of its accumulated difference alone), or is held back until its emit time
//! when the window emits `final`, so a growing session emits once.

use std::hash::{Hash, Hasher};

use differential_dataflow::difference::Abelian;

use super::groups::Session;
use super::interned::GroupId;
use crate::change::time::time_value;
use crate::operators::aggregate::AggDiff;
use crate::operators::window::WindowTiming;
use crate::operators::window::future::SessionOut;
use crate::plan::AggFunc;
use crate::value::Row;

/// A session's key: `(window_start, window_end, group..)`.
pub(super) fn session_key(group: &Row, start: u64, end: u64) -> Row {
    let mut key = Vec::with_capacity(group.0.len() + 2);
    key.push(time_value(start));
    key.push(time_value(end));
    key.extend(group.0.iter().cloned());
    Row(key)
}

/// A session as its running total knows it: hashed and compared by its group's id and its
/// bounds (integers), carrying its key row (see [`session_key`]) for the rows it finishes.
#[derive(Clone, Debug)]
pub(super) struct SessionKey {
    id: (GroupId, u64, u64),
    pub(super) row: Row,
}

impl SessionKey {
    pub(super) fn new(group_id: GroupId, group: &Row, start: u64, end: u64) -> SessionKey {
        SessionKey {
            id: (group_id, start, end),
            row: session_key(group, start, end),
        }
    }
}

impl SessionKey {
    /// A key to find a session's total by (its row is left empty).
    pub(super) fn lookup(group_id: GroupId, start: u64, end: u64) -> SessionKey {
        SessionKey {
            id: (group_id, start, end),
            row: Row::default(),
        }
    }
}

impl PartialEq for SessionKey {
    fn eq(&self, other: &Self) -> bool {
        // NB: equal ids mean equal rows: an id names one group, never the next in its slot.
        self.id == other.id
    }
}

impl Eq for SessionKey {}

impl Hash for SessionKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// A session's contribution to its running total, at a time.
pub(super) type Contribution = (SessionKey, u64, AggDiff);

/// Emits contribution pairs for rows as they join or leave sessions.
pub(super) struct Emitter<'a> {
    pub(super) group: &'a Row,
    pub(super) group_id: GroupId,
    pub(super) gap: u64,
    pub(super) timing: WindowTiming,
    pub(super) time: u64,
    /// `Some` when aggregates are abelian: emit accumulators, not rows.
    pub(super) funcs: Option<&'a [AggFunc]>,
    /// Sessions keep their rows (needed to emit rows, or to split on a retraction).
    pub(super) keep_rows: bool,
    pub(super) out: &'a mut Vec<SessionOut>,
    /// Contributions to abelian sessions' running totals.
    pub(super) accs: &'a mut Vec<Contribution>,
    /// The earliest emit time of a session held back during this step.
    pub(super) held_back: Option<u64>,
}

impl Emitter<'_> {
    /// A session's end and the times its contribution is inserted and released.
    pub(super) fn times(&self, session: &Session) -> (u64, u64, u64) {
        let end = session.end(self.gap);
        let (insert, release) = self.timing.contribution_times(self.time, end);
        (end, insert, release)
    }

    /// Adds (`sign` 1) or withdraws (-1) a session's contribution. An addition whose
    /// insertion lies in the future is held back: the operator emits it once its time is
    /// complete (`emit_due`), so a session that keeps growing emits once.
    pub(super) fn emit_session(&mut self, session: &mut Session, sign: i64) {
        let (end, insert, release) = self.times(session);
        if insert == release || (sign < 0 && !session.emitted) {
            // NB: past its expiry a session shows nothing, and is not held back either.
            session.emitted |= sign > 0;
            return;
        }
        if sign > 0 && insert > self.time {
            session.emitted = false;
            self.held_back = Some(self.held_back.map_or(insert, |h| h.min(insert)));
            return;
        }
        self.emit_session_at(session, sign, end, insert, release);
        session.emitted = sign > 0;
    }

    /// Emits a held-back session at its emit time.
    pub(super) fn emit_due(&mut self, session: &mut Session) {
        let end = session.end(self.gap);
        let due = self.timing.emit_time(end);
        let (insert, release) = self.timing.contribution_times(due, end);
        self.emit_session_at(session, 1, end, insert, release);
        session.emitted = true;
    }

    /// A session split off an open one by a retraction may already be past its expiry:
    /// closed at birth. Its rows are on time and in no other session, so it is emitted now
    /// (a correction) and released an instant later, instead of being dropped.
    pub(super) fn emit_split(&mut self, session: &mut Session) {
        let (end, insert, release) = self.times(session);
        if insert == release {
            let release = self.time.saturating_add(1);
            self.emit_session_at(session, 1, end, self.time, release);
            session.emitted = true;
        } else {
            self.emit_session(session, 1);
        }
    }

    /// Whether a session is past its expiry (changes to it are no longer shown).
    pub(super) fn is_expired(&self, session: &Session) -> bool {
        let (_, insert, release) = self.times(session);
        insert == release
    }

    pub(super) fn emit_session_at(
        &mut self,
        session: &Session,
        sign: i64,
        end: u64,
        insert: u64,
        release: u64,
    ) {
        if self.funcs.is_some() {
            let mut acc = session.acc.clone();
            if sign < 0 {
                acc.negate();
            }
            self.emit_acc(session.start, end, acc, insert);
        } else {
            let key = session_key(self.group, session.start, end);
            for (_, args, d) in &session.rows {
                self.emit_row(&key, args, d * sign, insert, release);
            }
        }
    }

    /// NB: an abelian session's running total is dropped when the session is released
    /// (see `shown`), so its release part is not sent: downstream would only drop it.
    pub(super) fn emit_acc(&mut self, start: u64, end: u64, acc: AggDiff, insert: u64) {
        let key = SessionKey::new(self.group_id, self.group, start, end);
        self.accs.push((key, insert, acc));
    }

    pub(super) fn emit_row(&mut self, key: &Row, args: &Row, diff: i64, insert: u64, release: u64) {
        self.out.push(((key.clone(), args.clone()), insert, diff));
        self.out.push(((key.clone(), args.clone()), release, -diff));
    }

    /// One row joins (or leaves) a session whose bounds do not change.
    pub(super) fn emit_one(&mut self, session: &Session, args: &Row, diff: i64) {
        let (end, insert, release) = self.times(session);
        // NB: a held-back session is emitted whole when due; it takes no deltas before.
        if insert == release || !session.emitted {
            return;
        }
        match self.funcs {
            Some(funcs) => {
                let mut acc = AggDiff::default();
                acc.add_row(funcs, &args.0[1..], diff);
                self.emit_acc(session.start, end, acc, insert);
            }
            None => {
                let key = session_key(self.group, session.start, end);
                self.emit_row(&key, args, diff, insert, release);
            }
        }
    }
}
