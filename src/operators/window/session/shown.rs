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
use super::emit::{Contribution, SessionKey};
use crate::operators::aggregate::AggDiff;
use crate::operators::total::{FinishTotal, Totals};

/// Running totals per session key and the contributions not applied yet.
pub(super) struct ShownTotals {
    totals: Totals<SessionKey>,
    finish: FinishTotal,
    pending: Vec<Contribution>,
    net: HashMap<SessionKey, AggDiff>,
    /// Totals to forget once the pending contributions are applied.
    forgotten: Vec<SessionKey>,
}

impl ShownTotals {
    pub(super) fn new(finish: FinishTotal) -> Self {
        ShownTotals {
            totals: Totals::default(),
            finish,
            pending: Vec::new(),
            net: HashMap::default(),
            forgotten: Vec::new(),
        }
    }

    /// Takes contributions to sessions' totals (each at a time not before any time applied
    /// so far).
    pub(super) fn add(&mut self, contributions: &mut Vec<Contribution>) {
        // NB: most often nothing is pending: the buffers trade places instead of a copy of
        // thousands of contributions.
        match self.pending.is_empty() {
            true => std::mem::swap(&mut self.pending, contributions),
            false => self.pending.append(contributions),
        }
    }

    /// Applies every pending contribution, time by time, and pushes the updates of the
    /// finished rows to `out`.
    pub(super) fn flush(&mut self, out: &mut Vec<SessionUpdate>) {
        let mut pending = std::mem::take(&mut self.pending);
        sort_by_time(&mut pending);
        // NB: `out` was handed on empty; most contributions finish one row.
        out.reserve(pending.len());
        let mut rest = pending.drain(..).peekable();
        while let Some((key, time, acc)) = rest.next() {
            let finish = &self.finish;
            let mut emit = |key: &SessionKey, total: &AggDiff, diff| {
                out.push(SessionUpdate::Total(finish(&key.row, total), time, diff));
            };
            // NB: most times hold one contribution (a session due then): nothing to net.
            if rest.peek().is_none_or(|(_, t, _)| *t != time) {
                self.totals.apply_netted([(key, acc)], &mut emit);
                continue;
            }
            net_in(&mut self.net, key, acc);
            while let Some((key, _, acc)) = rest.next_if(|(_, t, _)| *t == time) {
                net_in(&mut self.net, key, acc);
            }
            self.totals.apply_netted(self.net.drain(), &mut emit);
        }
        drop(rest);
        self.pending = pending;
        for key in self.forgotten.drain(..) {
            self.totals.remove(&key);
        }
    }

    /// Forgets the total of a released session at the next flush, once the contributions
    /// made before (which may include the session's last) are applied.
    pub(super) fn forget(&mut self, key: SessionKey) {
        self.forgotten.push(key);
    }
}

/// Sorts contributions by time (the order within a time does not matter: its contributions
/// are netted). NB: a contribution is 88 bytes, and a flush's are far from sorted (each
/// session is due at its own end), so their times are sorted with their places (16 bytes
/// each) and each contribution is then moved once, to its place: `sort_unstable_by_key` on
/// the contributions themselves took about 250 instructions each.
fn sort_by_time(contributions: &mut [Contribution]) {
    if contributions.is_sorted_by_key(|(_, time, _)| *time) {
        return;
    }
    let Ok(len) = u32::try_from(contributions.len()) else {
        contributions.sort_unstable_by_key(|(_, time, _)| *time);
        return;
    };
    let mut order: Vec<(u64, u32)> = contributions
        .iter()
        .zip(0..len)
        .map(|((_, time, _), at)| (*time, at))
        .collect();
    order.sort_unstable();
    // `dest[i]`: where the contribution now at `i` belongs. Each swap puts one in its place.
    let mut dest = vec![0u32; order.len()];
    for (place, (_, at)) in (0..len).zip(&order) {
        dest[*at as usize] = place;
    }
    for at in 0..contributions.len() {
        while dest[at] as usize != at {
            let to = dest[at] as usize;
            contributions.swap(at, to);
            dest.swap(at, to);
        }
    }
}

fn net_in(net: &mut HashMap<SessionKey, AggDiff>, key: SessionKey, acc: AggDiff) {
    match net.get_mut(&key) {
        Some(sum) => sum.plus_equals(&acc),
        None => {
            net.insert(key, acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::total::test_support::{count, key};
    use crate::operators::window::session::interned::Groups;
    use crate::value::{Row, Value};

    /// Finishes a session's row as its group and its count (bounds dropped).
    fn shown() -> ShownTotals {
        ShownTotals::new(Box::new(|key: &Row, total: &AggDiff| {
            let mut values = key.0[2..].to_vec();
            values.push(Value::Int(total.rows));
            Row(values)
        }))
    }

    /// The session [0, 0) of the group named `name`.
    fn session(groups: &mut Groups, name: &str) -> SessionKey {
        let group = key(name);
        let id = groups.intern(group.clone());
        SessionKey::new(id, &group, 0, 0)
    }

    fn row(name: &str, count: i64) -> Row {
        Row(vec![Value::from(name), Value::Int(count)])
    }

    fn updates(out: &[SessionUpdate]) -> Vec<(Row, u64, i64)> {
        let mut seen: Vec<(Row, u64, i64)> = out
            .iter()
            .filter_map(|u| match u {
                SessionUpdate::Total(row, t, d) => Some((row.clone(), *t, *d)),
                SessionUpdate::Row(..) => None,
            })
            .collect();
        seen.sort();
        seen
    }

    #[test]
    fn contributions_sort_by_time_as_a_comparison_sort_does() {
        let mut groups = Groups::default();
        let a = session(&mut groups, "a");
        // Times drawn from a small range (many equal), each contribution told apart by count.
        let mut seed = 7u64;
        for len in [0, 1, 2, 5, 64, 1000] {
            let mut contributions: Vec<Contribution> = (0..len)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (a.clone(), (seed >> 33) % 50, count(i as i64))
                })
                .collect();
            let mut expected: Vec<(u64, i64)> = contributions
                .iter()
                .map(|(_, t, acc)| (*t, acc.rows))
                .collect();
            expected.sort();
            sort_by_time(&mut contributions);
            let times: Vec<u64> = contributions.iter().map(|(_, t, _)| *t).collect();
            assert!(times.is_sorted(), "{len} contributions sorted by time");
            let mut seen: Vec<(u64, i64)> = contributions
                .iter()
                .map(|(_, t, acc)| (*t, acc.rows))
                .collect();
            seen.sort();
            assert_eq!(seen, expected, "every contribution kept with its time");
        }
    }

    #[test]
    fn contributions_net_per_time_and_a_forgotten_total_goes_after_its_last_contribution() {
        let mut totals = shown();
        let mut groups = Groups::default();
        let a = session(&mut groups, "a");
        let mut out = Vec::new();
        totals.add(&mut vec![
            (a.clone(), 7, count(1)),
            (a.clone(), 5, count(2)),
            (a.clone(), 7, count(1)),
        ]);
        // Released before the flush that applies its contributions: forgotten after them.
        totals.forget(a.clone());
        totals.flush(&mut out);
        assert_eq!(
            updates(&out),
            vec![
                (row("a", 2), 5, 1),
                (row("a", 2), 7, -1),
                (row("a", 4), 7, 1)
            ]
        );
        assert!(
            totals.totals.is_empty(),
            "a released session's total is forgotten"
        );
        out.clear();
        totals.add(&mut vec![(a, 9, count(1))]);
        totals.flush(&mut out);
        assert_eq!(updates(&out), vec![(row("a", 1), 9, 1)]);
    }
}
