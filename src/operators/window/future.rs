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

use differential_dataflow::difference::{IsZero, Semigroup};
use foldhash::HashMap;
use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;

use crate::operators::aggregate::AggDiff;
use crate::value::Row;

/// What the session operator folds: rows assigned to sessions, or, when every aggregate is
/// abelian, one accumulated difference per session change (so a growing session costs O(1)
/// per event instead of re-emitting its rows).
#[derive(Clone, Debug)]
pub enum SessionOut {
    Row((Row, Row), u64, i64),
    Acc(Row, u64, AggDiff),
}

/// The folded updates of one future time.
#[derive(Default)]
struct Folded {
    accs: HashMap<Row, AggDiff>,
    rows: HashMap<(Row, Row), i64>,
}

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
        let time = match &update {
            SessionOut::Row(_, t, _) | SessionOut::Acc(_, t, _) => *t,
        };
        if self.held.as_ref().is_none_or(|held| *held.time() > time) {
            self.held = Some(cap.delayed(&time));
        }
        let folded = self.times.entry(time).or_default();
        match update {
            SessionOut::Acc(key, _, acc) => folded.accs.entry(key).or_default().plus_equals(&acc),
            SessionOut::Row(keyed, _, diff) => *folded.rows.entry(keyed).or_default() += diff,
        }
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
        let accs = folded.accs.into_iter().filter(|(_, acc)| !acc.is_zero());
        let accs = accs.map(|(key, acc)| SessionOut::Acc(key, time, acc));
        let rows = folded.rows.into_iter().filter(|(_, diff)| *diff != 0);
        let rows = rows.map(|(keyed, diff)| SessionOut::Row(keyed, time, diff));
        Some(accs.chain(rows).collect())
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
