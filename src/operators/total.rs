//! Running totals of abelian aggregate differences per key, in time order.
//!
//! This is what differential's `count_total` computes for a totally ordered time: at each
//! time where a key's net difference is not zero, the key's previous total is retracted (if
//! not zero) and its new total inserted (if not zero). `count_total` keeps the totals in an
//! arrangement, so every difference is sorted into batches, merged and compacted before it is
//! counted; here the totals live in a hash map and each complete time's differences are
//! applied directly, earliest time first. The output is the same collection, update for
//! update. A key whose total returns to zero (a window released, a group emptied) is dropped
//! from the map at once.

use differential_dataflow::difference::{IsZero, Semigroup};
use std::collections::hash_map::Entry;
use std::hash::Hash;

use foldhash::{HashMap, HashMapExt};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::ParallelizationContract;
use timely::dataflow::operators::generic::operator::Operator;

use super::aggregate::AggDiff;
use super::by_time::HeldByTime;
use crate::operators::state_gauge::StateGauge;
use crate::value::Row;

/// Differences of aggregate accumulators per key, at differential times.
pub type KeyedDiffs<'scope> = Stream<'scope, u64, Vec<(Row, u64, AggDiff)>>;

/// The running total of every key of `diffs` as updates of `finish(key, total)` rows. `pact`
/// must bring all of a key's differences to one worker.
pub fn accumulate_totals<'scope, P>(
    diffs: KeyedDiffs<'scope>,
    pact: P,
    finish: FinishTotal,
) -> Stream<'scope, u64, Vec<(Row, u64, i64)>>
where
    P: ParallelizationContract<u64, Vec<(Row, u64, AggDiff)>>,
{
    diffs.unary_frontier(pact, "AccumulateTotals", move |_cap, info| {
        let mut held: HeldByTime<Vec<(Row, AggDiff)>> = HeldByTime::default();
        let mut totals = Totals::default();
        let gauge = StateGauge::for_operator(info.global_id);
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                for (key, time, diff) in data.drain(..) {
                    held.at(&cap, time).push((key, diff));
                }
            });
            // NB: each update carries its own time; every complete time's updates go in one
            // message at the earliest capability.
            let mut earliest = None;
            let mut updates = Vec::new();
            while let Some((time, cap, diffs)) = held.next_completed(frontier) {
                earliest.get_or_insert(cap);
                totals.apply(diffs, &mut |key, total, diff| {
                    updates.push((finish(key, total), time, diff));
                });
            }
            if let Some(cap) = earliest {
                output.session(&cap).give_container(&mut updates);
            }
            if let Some(gauge) = &gauge {
                gauge.set(totals.len());
            }
        }
    })
}

/// Makes a key's output row from the key and its total.
pub type FinishTotal = Box<dyn Fn(&Row, &AggDiff) -> Row>;

/// The running totals per key (a row, or any key that identifies one), and a buffer that
/// nets one time's differences per key.
pub struct Totals<K = Row> {
    totals: HashMap<K, AggDiff>,
    net: HashMap<K, AggDiff>,
}

impl<K> Default for Totals<K> {
    fn default() -> Self {
        Totals {
            totals: HashMap::new(),
            net: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Totals<K> {
    /// Applies one time's differences; tells `emit` each retracted (-1) and inserted (+1)
    /// total.
    fn apply(&mut self, diffs: Vec<(K, AggDiff)>, emit: &mut impl FnMut(&K, &AggDiff, i64)) {
        if self.net.capacity() == 0 {
            self.net = HashMap::with_capacity(diffs.len());
        }
        for (key, diff) in diffs {
            match self.net.get_mut(&key) {
                Some(net) => net.plus_equals(&diff),
                None => {
                    self.net.insert(key, diff);
                }
            }
        }
        let mut net = std::mem::take(&mut self.net);
        self.apply_netted(net.drain(), emit);
        self.net = net;
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// The keys with a total.
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    /// Forgets `key`'s total (its owner knows no more differences will come).
    pub fn remove(&mut self, key: &K) {
        self.totals.remove(key);
    }

    /// Applies one time's differences, already netted per key (each key at most once).
    pub fn apply_netted(
        &mut self,
        diffs: impl IntoIterator<Item = (K, AggDiff)>,
        emit: &mut impl FnMut(&K, &AggDiff, i64),
    ) {
        for (key, diff) in diffs {
            if diff.is_zero() {
                continue;
            }
            match self.totals.entry(key) {
                Entry::Occupied(mut entry) => {
                    if !entry.get().is_zero() {
                        emit(entry.key(), entry.get(), -1);
                    }
                    let total = entry.get_mut();
                    total.plus_equals(&diff);
                    if total.is_zero() {
                        entry.remove();
                    } else {
                        emit(entry.key(), entry.get(), 1);
                    }
                }
                Entry::Vacant(entry) => {
                    let entry = entry.insert_entry(diff);
                    emit(entry.key(), entry.get(), 1);
                }
            }
        }
    }
}

/// Keys and count differences for tests of running totals.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::plan::AggFunc;
    use crate::value::Value;

    /// The difference of `rows` rows to `count(*)`.
    pub(crate) fn count(rows: i64) -> AggDiff {
        AggDiff::of_row(&[AggFunc::Count], &[Value::Null], rows).unwrap()
    }

    /// A one-string key.
    pub(crate) fn key(name: &str) -> Row {
        Row(vec![Value::from(name)])
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{count, key};
    use super::*;

    #[test]
    fn each_time_retracts_the_old_total_and_inserts_the_new_one() {
        let mut totals = Totals::default();
        let mut seen = Vec::new();
        let mut record = |time: u64, diffs: Vec<(Row, AggDiff)>, totals: &mut Totals| {
            totals.apply(diffs, &mut |key, total, diff| {
                seen.push((time, key.clone(), total.rows, diff))
            });
        };
        record(
            1,
            vec![(key("a"), count(1)), (key("a"), count(2))],
            &mut totals,
        );
        record(
            2,
            vec![(key("a"), count(1)), (key("a"), count(-1))],
            &mut totals,
        );
        record(
            3,
            vec![(key("a"), count(-3)), (key("b"), count(1))],
            &mut totals,
        );
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (1, key("a"), 3, 1),
                (3, key("a"), 3, -1),
                (3, key("b"), 1, 1),
            ]
        );
        assert_eq!(totals.totals.len(), 1, "a key back at zero is dropped");
    }
}
