//! Window updates stamped at future times, folded until their time is complete.
//!
//! Window operators stamp a contribution at its window's emit time and its release at the
//! expiry (see [`WindowTiming`](super::WindowTiming)), both usually later than the batch
//! that caused them. While a session is open, every event re-keys it (its end moves), so
//! most of these updates cancel before their time comes: the old key is retracted at the
//! same future time it was inserted. Folding them here, per time and key, and releasing a
//! time only once the input frontier has passed it, sends downstream
//! the net change alone: one insertion and one release per session instead of two updates
//! per event.

use std::collections::BTreeMap;

use foldhash::HashMap;
use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;

use crate::value::Row;

/// What the session operator folds: a row assigned to a session keyed by
/// `(window_start, window_end, group..)`, at a time, with a difference. (Abelian sessions
/// keep running totals instead, see `session::shown`.)
pub type SessionOut = ((Row, Row), u64, i64);

/// The folded updates of one future time.
type Folded = HashMap<(Row, Row), i64>;

/// Updates waiting for their time to be complete, and one capability for the earliest of
/// them (one per pending time would put every session end time into progress tracking).
#[derive(Default)]
pub struct FutureFold {
    times: BTreeMap<u64, Folded>,
    held: Option<Capability<u64>>,
}

impl FutureFold {
    /// Folds `update` in; `cap` is a capability at or before the update's time.
    pub fn add(&mut self, cap: &Capability<u64>, update: SessionOut) {
        let (keyed, time, diff) = update;
        if self.held.as_ref().is_none_or(|held| *held.time() > time) {
            self.held = Some(cap.delayed(&time));
        }
        *self
            .times
            .entry(time)
            .or_default()
            .entry(keyed)
            .or_default() += diff;
    }

    /// Takes the earliest time if the frontier has passed it, with the net updates that did
    /// not cancel. Once every complete time is taken, send them at [`Self::capability`], then
    /// call [`Self::settle`].
    pub fn next_completed(&mut self, frontier: &MutableAntichain<u64>) -> Option<Vec<SessionOut>> {
        let entry = self.times.first_entry()?;
        if frontier.less_equal(entry.key()) {
            return None;
        }
        let (time, folded) = entry.remove_entry();
        let rows = folded.into_iter().filter(|(_, diff)| *diff != 0);
        Some(rows.map(|(keyed, diff)| (keyed, time, diff)).collect())
    }

    /// A capability at or before every update taken or still pending.
    pub fn capability(&self) -> Option<&Capability<u64>> {
        self.held.as_ref()
    }

    /// Moves the capability to the earliest pending time, or drops it.
    pub fn settle(&mut self) {
        match (self.times.keys().next(), &mut self.held) {
            (Some(&first), Some(held)) => held.downgrade(&first),
            _ => self.held = None,
        }
    }
}
