//! Equi-joins over hash maps of each side's live rows, time by time.
//!
//! Times are totally ordered, so a join needs no arrangement: each complete time's changes
//! are applied to hash maps of the sides' rows by join key, earliest time first, and the
//! joined rows change by `ΔL ⋈ R_t + L_{t-1} ⋈ ΔR` (the right side's changes at `t` are applied
//! first, so an event meets the table as it is at its own time). Differential's `join` sorts
//! every update into batches, merges them and walks cursors over them; a profile of the table
//! join put 40% of its worker there. The output is the same collection at every time.
//!
//! Two modes:
//! - **Events looked up in a table** (`keep_left: false`, as a stream-table join in Kafka
//!   Streams): an event meets the table as it is at the event's time, once. Its joined rows
//!   are final and a later change to the table does not rewrite them, so events are not kept.
//! - **Table ⋈ table** (`keep_left: true`): both sides kept; a change on either side retracts
//!   and inserts the joined rows it changes.
//!
//! A left outer join (`pad_to`) also emits each left row whose key has no right row, padded
//! with nulls, and retracts or inserts those padded rows when the key's right rows appear or
//! all go. A key with a null joins nothing, so a right row with one is not kept (a left one is
//! padded in an outer join).
//!
//! Times are handed over in order once both inputs have passed them, a function of the input
//! alone: the result does not depend on how batches or workers interleave.

use differential_dataflow::AsCollection;
use foldhash::{HashMap, HashMapExt};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

use crate::operators::by_time::HeldByTime;
use crate::operators::fallible::Rows;
use crate::operators::state_gauge::StateGauge;
use crate::store::stable_hash;
use crate::value::{Row, Value};

use super::hashed_row::HashedRow;
use super::join::{Keyed, KeyedRow, has_null};

/// One time's updates of one side.
type Changes = Vec<(KeyedRow, i64)>;

/// How the two sides are joined (see the module doc).
#[derive(Clone, Copy)]
pub struct JoinMode {
    /// Keep the left side's rows (a table) or not (events, each looked up once).
    pub keep_left: bool,
    /// A left outer join: pad an unmatched left row with this many nulls.
    pub pad_to: Option<usize>,
}

/// Joins `left` with `right` on their keys (see the module doc).
pub fn hash_join<'scope>(
    left: Keyed<'scope>,
    right: Keyed<'scope>,
    mode: JoinMode,
) -> Rows<'scope> {
    let by_key = || Exchange::new(|((key, _), _, _): &(KeyedRow, u64, i64)| stable_hash(key));
    left.inner
        .binary_frontier(
            right.inner,
            by_key(),
            by_key(),
            "HashJoin",
            move |_cap, info| {
                let mut held = (HeldByTime::default(), HeldByTime::default());
                let mut sides = Sides::new(mode);
                let gauge = StateGauge::for_operator(info.global_id);
                move |(left_in, left_frontier), (right_in, right_frontier), output| {
                    left_in.for_each(|cap, data| held.0.hold_updates(&cap, data));
                    right_in.for_each(|cap, data| held.1.hold_updates(&cap, data));
                    let complete =
                        |t: &u64| !left_frontier.less_equal(t) && !right_frontier.less_equal(t);
                    let mut joined = Vec::new();
                    let mut earliest: Option<Capability<u64>> = None;
                    let completed = completed_in_order(&mut held, complete);
                    // NB: an event looked up in a table mostly meets one row: its side's
                    // changes are the output's size, reserved once rather than grown.
                    joined.reserve(completed.iter().map(|(_, _, (left, _))| left.len()).sum());
                    for (time, cap, (left, right)) in completed {
                        sides.step(left, right, &mut |row, diff| joined.push((row, time, diff)));
                        earliest.get_or_insert(cap);
                    }
                    if let Some(cap) = earliest {
                        output.session(&cap).give_container(&mut joined);
                    }
                    if let Some(gauge) = &gauge {
                        gauge.set(sides.len());
                    }
                }
            },
        )
        .as_collection()
}

/// Every time both sides have completed, earliest first, with a capability for it and each
/// side's changes at it (empty where a side has none).
fn completed_in_order(
    (left, right): &mut (HeldByTime<Changes>, HeldByTime<Changes>),
    complete: impl Fn(&u64) -> bool + Copy,
) -> Vec<(u64, Capability<u64>, (Changes, Changes))> {
    let mut times: Vec<(u64, Capability<u64>, (Changes, Changes))> = Vec::new();
    while let Some((time, cap, changes)) = left.next_completed_where(complete) {
        times.push((time, cap, (changes, Vec::new())));
    }
    while let Some((time, cap, changes)) = right.next_completed_where(complete) {
        match times.binary_search_by_key(&time, |(t, _, _)| *t) {
            Ok(at) => times[at].2.1 = changes,
            Err(at) => times.insert(at, (time, cap, (Vec::new(), changes))),
        }
    }
    times
}

/// Both sides' live rows.
struct Sides {
    mode: JoinMode,
    left: TableRows,
    right: TableRows,
}

impl Sides {
    fn new(mode: JoinMode) -> Sides {
        Sides {
            mode,
            left: TableRows::default(),
            right: TableRows::default(),
        }
    }

    fn len(&self) -> usize {
        self.left.len() + self.right.len()
    }

    /// Applies one time's changes of both sides; tells `emit` each change of the joined rows.
    /// Each side's changes are moved into its map once nothing else reads them.
    fn step(&mut self, left: Changes, right: Changes, emit: &mut impl FnMut(Row, i64)) {
        let pad_to = self.mode.pad_to;
        let mut had_right = Vec::new();
        if self.mode.keep_left {
            // L_{t-1} ⋈ ΔR, before either side changes.
            for ((key, row), diff) in &right {
                self.left.each_row(key, &mut |l, times| {
                    emit(concat(&l.row, &row.row), times * diff)
                });
            }
            // NB: a key whose right rows appear or all go changes its left rows' padded rows.
            if pad_to.is_some() {
                had_right = right
                    .iter()
                    .map(|((key, _), _)| (key.clone(), self.right.has(key)))
                    .collect();
            }
        }
        self.right.apply(right);
        // ΔL ⋈ R_t.
        for ((key, row), diff) in &left {
            self.right
                .look_up(key, &row.row, pad_to, &mut |joined, times| {
                    emit(joined, diff * times)
                });
        }
        if !self.mode.keep_left {
            return;
        }
        if let Some(width) = pad_to {
            for (key, had) in once_per_key(had_right) {
                let has = self.right.has(&key);
                if had != has {
                    let diff = if has { -1 } else { 1 };
                    self.left.each_row(&key, &mut |l, times| {
                        emit(padded(&l.row, width), times * diff)
                    });
                }
            }
        }
        self.left.apply(left);
    }
}

/// Each key once (its entries all say the same: they were taken before any change).
fn once_per_key(mut keys: Vec<(HashedRow, bool)>) -> Vec<(HashedRow, bool)> {
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys.dedup_by(|a, b| a.0 == b.0);
    keys
}

/// `left ++ right`.
fn concat(left: &Row, right: &Row) -> Row {
    let mut values = Vec::with_capacity(left.0.len() + right.0.len());
    values.extend(left.0.iter().cloned());
    values.extend(right.0.iter().cloned());
    Row(values)
}

/// `row` followed by `width` nulls.
fn padded(row: &Row, width: usize) -> Row {
    let mut values = Vec::with_capacity(row.0.len() + width);
    values.extend(row.0.iter().cloned());
    values.extend(std::iter::repeat_n(Value::Null, width));
    Row(values)
}

/// One side's rows by join key, each with its multiplicity (never zero).
#[derive(Default)]
struct TableRows {
    by_key: HashMap<HashedRow, Vec<(HashedRow, i64)>>,
    len: usize,
}

impl TableRows {
    fn len(&self) -> usize {
        self.len
    }

    /// Whether `key` has any row.
    fn has(&self, key: &HashedRow) -> bool {
        self.by_key.contains_key(key)
    }

    /// Tells `f` each row of `key` with its multiplicity.
    fn each_row(&self, key: &HashedRow, f: &mut impl FnMut(&HashedRow, i64)) {
        for (row, times) in self.by_key.get(key).into_iter().flatten() {
            f(row, *times);
        }
    }

    /// Applies one time's changes. A row whose key has a null never joins, so it is not kept.
    fn apply(&mut self, changes: Changes) {
        if self.by_key.capacity() == 0 {
            self.by_key = HashMap::with_capacity(changes.len());
        }
        for ((key, row), diff) in changes {
            if !has_null(&key) {
                self.add(key, row, diff);
            }
        }
    }

    fn add(&mut self, key: HashedRow, row: HashedRow, diff: i64) {
        let Some(rows) = self.by_key.get_mut(&key) else {
            self.by_key.insert(key, vec![(row, diff)]);
            self.len += 1;
            return;
        };
        match rows.iter_mut().position(|(r, _)| *r == row) {
            Some(at) => {
                rows[at].1 += diff;
                if rows[at].1 == 0 {
                    rows.swap_remove(at);
                    self.len -= 1;
                }
            }
            None => {
                rows.push((row, diff));
                self.len += 1;
            }
        }
        if rows.is_empty() {
            self.by_key.remove(&key);
        }
    }

    /// Tells `emit` each joined row of `event` under `key` with the row's multiplicity; with
    /// `pad_to` and no row, the event padded with nulls, once.
    fn look_up(
        &self,
        key: &HashedRow,
        event: &Row,
        pad_to: Option<usize>,
        emit: &mut impl FnMut(Row, i64),
    ) {
        let rows = match has_null(key) {
            true => None,
            false => self.by_key.get(key),
        };
        match (rows, pad_to) {
            (Some(rows), _) => {
                for (row, times) in rows {
                    emit(concat(event, &row.row), *times);
                }
            }
            (None, Some(width)) => emit(padded(event, width), 1),
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::collections::BTreeMap;

    fn keyed(key: &str, row: &[i64]) -> KeyedRow {
        let key = HashedRow::new(Row(vec![Value::from(key)]));
        let row = Row(row.iter().map(|v| Value::Int(*v)).collect());
        (key, HashedRow::by_first_field(row))
    }

    fn joined(rows: &TableRows, key: &str, event: i64, pad_to: Option<usize>) -> Vec<(Row, i64)> {
        let (key, event) = keyed(key, &[event]);
        let mut out = Vec::new();
        rows.look_up(&key, &event.row, pad_to, &mut |row, times| {
            out.push((row, times))
        });
        out.sort();
        out
    }

    fn row(values: &[Value]) -> Row {
        Row(values.to_vec())
    }

    #[test]
    fn an_event_meets_the_rows_of_its_key_as_they_are_now() {
        let mut rows = TableRows::default();
        rows.apply(vec![(keyed("a", &[1]), 1), (keyed("a", &[2]), 1)]);
        rows.apply(vec![(keyed("b", &[3]), 2)]);
        let (one, two, three) = (Value::Int(1), Value::Int(2), Value::Int(3));
        let nine = Value::Int(9);
        assert_eq!(
            joined(&rows, "a", 9, None),
            vec![
                (row(&[nine.clone(), one.clone()]), 1),
                (row(&[nine.clone(), two.clone()]), 1)
            ]
        );
        assert_eq!(
            joined(&rows, "b", 9, None),
            vec![(row(&[nine.clone(), three]), 2)]
        );
        rows.apply(vec![(keyed("a", &[1]), -1), (keyed("b", &[3]), -2)]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            joined(&rows, "a", 9, None),
            vec![(row(&[nine.clone(), two]), 1)]
        );
        assert_eq!(joined(&rows, "b", 9, None), vec![]);
        assert_eq!(
            joined(&rows, "b", 9, Some(2)),
            vec![(row(&[nine, Value::Null, Value::Null]), 1)]
        );
        assert!(!rows.by_key.contains_key(&keyed("b", &[]).0));
    }

    #[test]
    fn a_null_key_joins_nothing_and_is_not_kept() {
        let mut rows = TableRows::default();
        let null_key = HashedRow::new(Row(vec![Value::Null]));
        let (_, row) = keyed("x", &[1]);
        rows.apply(vec![((null_key.clone(), row.clone()), 1)]);
        assert_eq!(rows.len(), 0);
        let mut out = Vec::new();
        rows.look_up(&null_key, &row.row, Some(1), &mut |row, times| {
            out.push((row, times))
        });
        assert_eq!(out, vec![(row_of(&[1], 1), 1)]);
    }

    fn row_of(values: &[i64], nulls: usize) -> Row {
        let mut row: Vec<Value> = values.iter().map(|v| Value::Int(*v)).collect();
        row.extend(std::iter::repeat_n(Value::Null, nulls));
        Row(row)
    }

    /// The join of the accumulated sides, recomputed from scratch: the oracle.
    fn recomputed(
        left: &BTreeMap<KeyedRow, i64>,
        right: &BTreeMap<KeyedRow, i64>,
        pad_to: Option<usize>,
    ) -> BTreeMap<Row, i64> {
        let mut out = BTreeMap::new();
        for ((lkey, lrow), lmult) in left {
            let mut matched = false;
            for ((rkey, rrow), rmult) in right {
                if lkey == rkey && !has_null(lkey) {
                    matched = true;
                    *out.entry(concat(&lrow.row, &rrow.row)).or_default() += lmult * rmult;
                }
            }
            if let (false, Some(width)) = (matched, pad_to) {
                *out.entry(padded(&lrow.row, width)).or_default() += lmult;
            }
        }
        out.retain(|_, d| *d != 0);
        out
    }

    fn random_change(rng: &mut Rng, live: &BTreeMap<KeyedRow, i64>) -> (KeyedRow, i64) {
        if !live.is_empty() && rng.below(3) == 0 {
            let at = rng.below(live.len() as u64) as usize;
            let (row, _) = live.iter().nth(at).expect("in range");
            return (row.clone(), -1);
        }
        let key = match rng.below(5) {
            0 => Value::Null,
            k => Value::Int(k as i64),
        };
        let row = Row(vec![Value::Int(rng.below(4) as i64)]);
        (
            (
                HashedRow::new(Row(vec![key])),
                HashedRow::by_first_field(row),
            ),
            1,
        )
    }

    #[test]
    fn tables_joined_time_by_time_match_the_join_recomputed() {
        for seed in 0..60 {
            let mut rng = Rng::new(seed, 1);
            let pad_to = (seed % 2 == 0).then_some(1);
            let mut sides = Sides::new(JoinMode {
                keep_left: true,
                pad_to,
            });
            let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
            let mut shown: BTreeMap<Row, i64> = BTreeMap::new();
            for _time in 0..25 {
                let mut changes = (Vec::new(), Vec::new());
                for _ in 0..rng.below(4) {
                    let (row, diff) = random_change(&mut rng, &left);
                    *left.entry(row.clone()).or_insert(0) += diff;
                    left.retain(|_, d| *d != 0);
                    changes.0.push((row, diff));
                }
                for _ in 0..rng.below(4) {
                    let (row, diff) = random_change(&mut rng, &right);
                    *right.entry(row.clone()).or_insert(0) += diff;
                    right.retain(|_, d| *d != 0);
                    changes.1.push((row, diff));
                }
                sides.step(changes.0, changes.1, &mut |row, diff| {
                    *shown.entry(row).or_default() += diff;
                });
                shown.retain(|_, d| *d != 0);
                assert_eq!(shown, recomputed(&left, &right, pad_to), "seed {seed}");
            }
        }
    }
}
