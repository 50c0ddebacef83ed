//! The session operator's state: every group's open sessions, the schedules saying which
//! groups need a visit when (held-back sessions falling due, closed sessions to release), and
//! where contributions go: rows to the [`FutureFold`] until their time is complete, abelian
//! differences to the sessions' running totals ([`ShownTotals`]).

use foldhash::{HashMap, HashMapExt};
use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;

use super::emit::{Emitter, session_key};
use super::groups::GroupSessions;
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
pub(super) struct OpenSessions {
    groups: HashMap<Row, GroupSessions>,
    due: Schedule,
    release: Schedule,
    settings: Settings,
    /// What the emitters produced and is not routed yet.
    out: Vec<SessionOut>,
    future: FutureFold,
    /// `Some` for abelian aggregates.
    shown: Option<ShownTotals>,
}

impl OpenSessions {
    pub(super) fn new(settings: Settings, shown: Option<ShownTotals>) -> Self {
        OpenSessions {
            groups: HashMap::new(),
            due: Schedule::default(),
            release: Schedule::default(),
            settings,
            out: Vec::new(),
            future: FutureFold::default(),
            shown,
        }
    }

    /// Routes what the emitters produced: abelian differences to the running totals, rows
    /// to the future fold (with `cap`, a capability no later than any of their times).
    fn route(&mut self, cap: &Capability<u64>) {
        for update in self.out.drain(..) {
            match (update, &mut self.shown) {
                (SessionOut::Acc(key, time, acc), Some(shown)) => shown.add(key, time, acc),
                (update, _) => self.future.add(cap, update),
            }
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
            for update in updates {
                if let SessionOut::Row(keyed, time, diff) = update {
                    ready.push(SessionUpdate::Row(keyed, time, diff));
                }
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
        let state = self.groups.entry(group.clone()).or_default();
        let mut emitter = settings.emitter(&group, time, &mut self.out);
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
        for (filed, group) in self.due.take_before(bound) {
            let Some(state) = visit(&mut self.groups, &group, filed, |s| &mut s.due_at) else {
                continue;
            };
            let mut emitter = self.settings.emitter(&group, bound, &mut self.out);
            if let Some(next) = state.emit_due(bound, &mut emitter) {
                self.due.file(&group, next, &mut state.due_at);
            }
            if release {
                release_sessions(state, &group, bound, &self.settings, &mut self.shown);
            }
            if refile(&mut self.release, &self.settings, &group, state) {
                self.groups.remove(&group);
            }
        }
        self.route(held);
    }

    /// Drops the sessions no row at or after `bound` can touch (and their running totals),
    /// and groups left empty.
    pub(super) fn release_before(&mut self, bound: u64) {
        for (filed, group) in self.release.take_before(bound) {
            let Some(state) = visit(&mut self.groups, &group, filed, |s| &mut s.release_at) else {
                continue;
            };
            release_sessions(state, &group, bound, &self.settings, &mut self.shown);
            if refile(&mut self.release, &self.settings, &group, state) {
                self.groups.remove(&group);
            }
        }
    }

    /// Files `group` for its next release, or drops it if it has no session left.
    fn file_release(&mut self, group: &Row) {
        if let Some(state) = self.groups.get_mut(group)
            && refile(&mut self.release, &self.settings, group, state)
        {
            self.groups.remove(group);
        }
    }
}

/// The state of `group` for a schedule entry filed at `filed`, if the entry is current (the
/// group still exists and `filed_at` still names that time); the group is then no longer
/// filed there.
fn visit<'a>(
    groups: &'a mut HashMap<Row, GroupSessions>,
    group: &Row,
    filed: u64,
    filed_at: impl Fn(&mut GroupSessions) -> &mut Option<u64>,
) -> Option<&'a mut GroupSessions> {
    let state = groups.get_mut(group)?;
    let at = filed_at(state);
    if *at != Some(filed) {
        return None;
    }
    *at = None;
    Some(state)
}

/// Drops `group`'s sessions no row at or after `bound` can touch, and their running totals.
fn release_sessions(
    state: &mut GroupSessions,
    group: &Row,
    bound: u64,
    settings: &Settings,
    shown: &mut Option<ShownTotals>,
) {
    let (gap, lateness) = (settings.gap, settings.timing.allowed_lateness);
    state.release(bound, gap, lateness, |start, end| {
        if let Some(shown) = shown.as_mut() {
            shown.forget(session_key(group, start, end));
        }
    });
}

/// Files `group` for its next release; true when it has no session left (to be dropped).
fn refile(
    release: &mut Schedule,
    settings: &Settings,
    group: &Row,
    state: &mut GroupSessions,
) -> bool {
    if state.sessions.is_empty() {
        return true;
    }
    let (gap, lateness) = (settings.gap, settings.timing.allowed_lateness);
    if let Some(at) = state.next_release(gap, lateness) {
        release.file(group, at, &mut state.release_at);
    }
    false
}
