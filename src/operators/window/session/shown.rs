//! The finished rows of abelian sessions: each session key's running total, and the updates
//! of `finish(key, total)` as contributions arrive.
//!
//! Every contribution of an abelian session is stamped at the time it is made or at its
//! session's emit time once that is complete (a `final` session is held back until then),
//! never in the future, so contributions are applied as soon as the operator has them: per
//! time, netted per key, earliest time first, each key's previous row retracted and its new
//! one inserted (what a running total downstream would give). A session's total is forgotten
//! when the session is released: from then on its row would only be retracted at its expiry,
//! and the release filter downstream drops such retractions, so none is sent.

use differential_dataflow::difference::Semigroup;
use foldhash::HashMap;

use super::SessionUpdate;
use crate::operators::aggregate::AggDiff;
use crate::operators::total::{FinishTotal, Totals};
use crate::value::Row;

/// Running totals per session key and the contributions not applied yet.
pub(super) struct ShownTotals {
    totals: Totals,
    finish: FinishTotal,
    pending: Vec<(u64, Row, AggDiff)>,
    net: HashMap<Row, AggDiff>,
}

impl ShownTotals {
    pub(super) fn new(finish: FinishTotal) -> Self {
        ShownTotals {
            totals: Totals::default(),
            finish,
            pending: Vec::new(),
            net: HashMap::default(),
        }
    }

    /// Takes a contribution to `key`'s total at `time` (not before any time applied so far).
    pub(super) fn add(&mut self, key: Row, time: u64, acc: AggDiff) {
        self.pending.push((time, key, acc));
    }

    /// Applies every pending contribution, time by time, and pushes the updates of the
    /// finished rows to `out`.
    pub(super) fn flush(&mut self, out: &mut Vec<SessionUpdate>) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|(time, _, _)| *time);
        let mut rest = pending.drain(..).peekable();
        while let Some((time, key, acc)) = rest.next() {
            self.net_in(key, acc);
            while let Some((_, key, acc)) = rest.next_if(|(t, _, _)| *t == time) {
                self.net_in(key, acc);
            }
            let finish = &self.finish;
            self.totals
                .apply_netted(self.net.drain(), &mut |key, total, diff| {
                    out.push(SessionUpdate::Total(finish(key, total), time, diff));
                });
        }
        drop(rest);
        self.pending = pending;
    }

    /// Forgets the total of a released session.
    pub(super) fn forget(&mut self, key: &Row) {
        self.totals.remove(key);
    }

    fn net_in(&mut self, key: Row, acc: AggDiff) {
        match self.net.get_mut(&key) {
            Some(net) => net.plus_equals(&acc),
            None => {
                self.net.insert(key, acc);
            }
        }
    }
}
