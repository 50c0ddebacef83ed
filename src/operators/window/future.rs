//! Window updates stamped at future times, folded until their time is complete.
//!
//! Window operators stamp a contribution at its window's emit time and its release at the
//! expiry (see [`WindowTiming`](super::WindowTiming)), both usually later than the batch
//! that caused them. While a session is open, every event re-keys it (its end moves), so
//! most of these updates cancel before their time comes: the old key is retracted at the
//! same future time it was inserted. Folding them here, per time and key, and releasing a
//! time only once the input frontier has passed it, sends downstream the net change alone:
//! one insertion and one release per session instead of two updates per event.

use std::collections::BTreeMap;

use differential_dataflow::difference::{IsZero, Semigroup};
use foldhash::HashMap;
use timely::dataflow::operators::Capability;

use crate::operators::aggregate::AggDiff;
use crate::value::Row;

use super::session::SessionOut;

/// The folded updates of one future time, and the capability to send them.
struct AtTime {
    cap: Capability<u64>,
    accs: HashMap<Row, AggDiff>,
    rows: HashMap<(Row, Row), i64>,
}

/// Updates waiting for their time to be complete.
#[derive(Default)]
pub struct FutureFold {
    times: BTreeMap<u64, AtTime>,
}

impl FutureFold {
    /// Folds `update` in; `cap` is a capability at or before the update's time.
    pub fn add(&mut self, cap: &Capability<u64>, update: SessionOut) {
        let time = match &update {
            SessionOut::Row(_, t, _) | SessionOut::Acc(_, t, _) => *t,
        };
        let at = self.times.entry(time).or_insert_with(|| AtTime {
            cap: cap.delayed(&time),
            accs: HashMap::default(),
            rows: HashMap::default(),
        });
        match update {
            SessionOut::Acc(key, _, acc) => at.accs.entry(key).or_default().plus_equals(&acc),
            SessionOut::Row(keyed, _, diff) => *at.rows.entry(keyed).or_default() += diff,
        }
    }

    /// Takes every time for which `complete(time)` holds, with its capability and the net
    /// updates that did not cancel.
    pub fn take_complete(
        &mut self,
        complete: impl Fn(u64) -> bool,
    ) -> Vec<(Capability<u64>, Vec<SessionOut>)> {
        let mut ready = Vec::new();
        while let Some(entry) = self.times.first_entry() {
            if !complete(*entry.key()) {
                break;
            }
            let (time, at) = entry.remove_entry();
            let accs = at.accs.into_iter().filter(|(_, acc)| !acc.is_zero());
            let accs = accs.map(|(key, acc)| SessionOut::Acc(key, time, acc));
            let rows = at.rows.into_iter().filter(|(_, diff)| *diff != 0);
            let rows = rows.map(|(keyed, diff)| SessionOut::Row(keyed, time, diff));
            ready.push((at.cap, accs.chain(rows).collect()));
        }
        ready
    }
}
