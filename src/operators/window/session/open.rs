//! The session operator's state: every group's open sessions, the schedules saying which
//! groups need a visit when (held-back sessions falling due, closed sessions to release), and
//! where contributions go: rows to the [`FutureFold`] until their time is complete, abelian
//! differences to the sessions' running totals ([`ShownTotals`]).

use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;

use super::emit::{Contribution, Emitter, SessionKey};
use super::groups::GroupSessions;
use super::interned::{GroupId, Groups};
use super::schedule::Schedule;
use super::shown::ShownTotals;
use super::{SessionRow, SessionUpdate};
use crate::operators::window::WindowTiming;
use crate::operators::window::future::{FutureFold, SessionOut};
use crate::plan::AggFunc;
use crate::value::Row;

/// What every group's emitter shares.
pub(super) struct Settings {
    pub(super) gap: u64,
    pub(super) timing: WindowTiming,
    pub(super) funcs: Option<Vec<AggFunc>>,
    pub(super) keep_rows: bool,
}

impl Settings {
    pub(super) fn emitter<'a>(
        &'a self,
        (group_id, group): (GroupId, &'a Row),
        time: u64,
        out: &'a mut Outbox,
    ) -> Emitter<'a> {
        Emitter {
            group,
            group_id,
            gap: self.gap,
            timing: self.timing,
            time,
            funcs: self.funcs.as_deref(),
            keep_rows: self.keep_rows,
            out: &mut out.rows,
            accs: &mut out.accs,
            held_back: None,
        }
    }
}

/// What the emitters produced and is not routed yet.
#[derive(Default)]
pub(super) struct Outbox {
    rows: Vec<SessionOut>,
    accs: Vec<Contribution>,
}

/// Every group's open sessions, and which groups need a visit when: held-back sessions
/// falling due, closed sessions to release (a group with none left is dropped at once).
pub(super) struct OpenSessions {
    groups: Groups,
    due: Schedule<GroupId>,
    release: Schedule<GroupId>,
    settings: Settings,
    out: Outbox,
    future: FutureFold,
    /// `Some` for abelian aggregates.
    shown: Option<ShownTotals>,
}

impl OpenSessions {
    pub(super) fn new(settings: Settings, shown: Option<ShownTotals>) -> Self {
        OpenSessions {
            groups: Groups::default(),
            due: Schedule::default(),
            release: Schedule::default(),
            settings,
            out: Outbox::default(),
            future: FutureFold::default(),
            shown,
        }
    }

    /// Routes what the emitters produced: abelian differences to the running totals, rows
    /// to the future fold (with `cap`, a capability no later than any of their times).
    fn route(&mut self, cap: &Capability<u64>) {
        for update in self.out.rows.drain(..) {
            self.future.add(cap, update);
        }
        if let Some(shown) = &mut self.shown {
            shown.add(&mut self.out.accs);
        }
    }

    /// Applies the running totals' pending contributions, pushing finished-row updates.
    pub(super) fn flush_totals(&mut self, ready: &mut Vec<SessionUpdate>) {
        if let Some(shown) = &mut self.shown {
            shown.flush(ready);
        }
    }

    /// Pushes the rows of every complete time (each update carries its own time).
    pub(super) fn complete_rows(
        &mut self,
        frontier: &MutableAntichain<u64>,
        ready: &mut Vec<SessionUpdate>,
    ) {
        while let Some(updates) = self.future.next_completed(frontier) {
            for (keyed, time, diff) in updates {
                ready.push(SessionUpdate::Row(keyed, time, diff));
            }
        }
    }

    /// A capability no later than any row completed or pending.
    pub(super) fn rows_capability(&self) -> Option<&Capability<u64>> {
        self.future.capability()
    }

    /// Moves the rows' capability to the earliest pending time.
    pub(super) fn settle_rows(&mut self) {
        self.future.settle();
    }

    /// The earliest time a held-back session may fall due.
    pub(super) fn next_due(&self) -> Option<u64> {
        self.due.first()
    }

    /// Applies one update of the batch at `time` (`cap` is the batch's capability); returns
    /// the emit time of a session it held back.
    pub(super) fn apply(
        &mut self,
        (group, ts, args): SessionRow,
        diff: i64,
        time: u64,
        cap: &Capability<u64>,
    ) -> Option<u64> {
        let settings = &self.settings;
        let id = self.groups.intern(group);
        let (group, state) = self.groups.get_mut(id).expect("an interned group");
        let mut emitter = settings.emitter((id, group), time, &mut self.out);
        if diff > 0 {
            state.insert(ts, args, diff, &mut emitter);
        } else {
            state.retract(ts, &args, diff, &mut emitter);
        }
        let held_back = emitter.held_back;
        if let Some(due) = held_back {
            self.due.file(id, due, &mut state.due_at);
        }
        if refile(&mut self.release, settings, id, state) {
            self.groups.remove(id);
        }
        self.route(cap);
        held_back
    }

    /// Emits the sessions due before `time` (their finished rows to `ready`) and releases
    /// those closed before it.
    pub(super) fn close_before(
        &mut self,
        time: u64,
        held: Option<&Capability<u64>>,
        ready: &mut Vec<SessionUpdate>,
    ) {
        self.emit_due_before(time, held, true);
        self.flush_totals(ready);
        self.release_before(time);
    }

    /// Emits every held-back session due before `bound`, at the held capability. With
    /// `release`, also drops what `release_before(bound)` would drop from the groups it
    /// visits (one visit instead of two: a session is often released just after its emit time).
    pub(super) fn emit_due_before(
        &mut self,
        bound: u64,
        held: Option<&Capability<u64>>,
        release: bool,
    ) {
        let Some(held) = held.filter(|_| self.due.has_before(bound)) else {
            return;
        };
        for (filed, id) in self.due.take_before(bound) {
            let Some((group, state)) = visit(&mut self.groups, id, filed, |s| &mut s.due_at) else {
                continue;
            };
            let mut emitter = self.settings.emitter((id, group), bound, &mut self.out);
            if let Some(next) = state.emit_due(bound, &mut emitter) {
                self.due.file(id, next, &mut state.due_at);
            }
            if release {
                release_sessions(state, id, bound, &self.settings, &mut self.shown);
            }
            if refile(&mut self.release, &self.settings, id, state) {
                self.groups.remove(id);
            }
        }
        self.route(held);
    }

    /// Drops the sessions no row at or after `bound` can touch (and their running totals),
    /// and groups left empty.
    /// The groups with open sessions or rows still held.
    pub(super) fn groups(&self) -> usize {
        self.groups.len()
    }

    pub(super) fn release_before(&mut self, bound: u64) {
        for (filed, id) in self.release.take_before(bound) {
            let Some((_, state)) = visit(&mut self.groups, id, filed, |s| &mut s.release_at) else {
                continue;
            };
            release_sessions(state, id, bound, &self.settings, &mut self.shown);
            if refile(&mut self.release, &self.settings, id, state) {
                self.groups.remove(id);
            }
        }
    }
}

/// The state of `group` for a schedule entry filed at `filed`, if the entry is current (the
/// group still exists and `filed_at` still names that time); the group is then no longer
/// filed there.
fn visit(
    groups: &mut Groups,
    id: GroupId,
    filed: u64,
    filed_at: impl Fn(&mut GroupSessions) -> &mut Option<u64>,
) -> Option<(&Row, &mut GroupSessions)> {
    let (group, state) = groups.get_mut(id)?;
    let at = filed_at(state);
    if *at != Some(filed) {
        return None;
    }
    *at = None;
    Some((group, state))
}

/// Drops `group`'s sessions no row at or after `bound` can touch, and their running totals.
fn release_sessions(
    state: &mut GroupSessions,
    id: GroupId,
    bound: u64,
    settings: &Settings,
    shown: &mut Option<ShownTotals>,
) {
    let (gap, lateness) = (settings.gap, settings.timing.allowed_lateness);
    state.release(bound, gap, lateness, |start, end| {
        if let Some(shown) = shown.as_mut() {
            shown.forget(SessionKey::lookup(id, start, end));
        }
    });
}

/// Files `group` for its next release; true when it has no session left (to be dropped).
fn refile(
    release: &mut Schedule<GroupId>,
    settings: &Settings,
    id: GroupId,
    state: &mut GroupSessions,
) -> bool {
    if state.sessions.is_empty() {
        return true;
    }
    let (gap, lateness) = (settings.gap, settings.timing.allowed_lateness);
    if let Some(at) = state.next_release(gap, lateness) {
        release.file(id, at, &mut state.release_at);
    }
    false
}
