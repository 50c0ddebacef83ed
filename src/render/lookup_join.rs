//! Events looked up in a table: the events ⋈ table join (see `render::join`).
//!
//! An event joins the table as it is at the event's time, once: its joined rows are final
//! when emitted, and a later change to the table does not rewrite them. Differential's `join`
//! would need the events arranged (inserted at their time and retracted one tick later, so
//! every event is sorted, merged and compacted twice) for a result that no later update ever
//! revisits. Here the events are not kept at all: the table's rows live in a hash map by join
//! key, and each complete time first applies the table's changes at that time, then looks up
//! that time's events. An event present for one tick in differential's `join` meets the same
//! rows (it too sees the table's changes at the event's own time), so the output is the same
//! collection.
//!
//! Times are handed over in order once both inputs have passed them, which is a function of
//! the input alone: the result does not depend on how batches or workers interleave.

use std::collections::hash_map::Entry;

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
type Held = HeldByTime<Vec<(KeyedRow, i64)>>;

/// Joins each event of `events` with the rows of `table` under its key at the event's time.
/// With `pad_to`, an event that meets no row is emitted once, padded with that many nulls
/// (a left outer join).
pub fn lookup_join<'scope>(
    events: Keyed<'scope>,
    table: Keyed<'scope>,
    pad_to: Option<usize>,
) -> Rows<'scope> {
    let by_key = || Exchange::new(|((key, _), _, _): &(KeyedRow, u64, i64)| stable_hash(key));
    events
        .inner
        .binary_frontier(
            table.inner,
            by_key(),
            by_key(),
            "LookupJoin",
            |_cap, info| {
                let mut events = Held::default();
                let mut changes = Held::default();
                let mut rows = TableRows::default();
                let gauge = StateGauge::for_operator(info.global_id);
                move |(events_in, events_frontier), (table_in, table_frontier), output| {
                    events_in.for_each(|cap, data| events.hold_updates(&cap, data));
                    table_in.for_each(|cap, data| changes.hold_updates(&cap, data));
                    let complete =
                        |t: &u64| !events_frontier.less_equal(t) && !table_frontier.less_equal(t);
                    let mut table_times = Vec::new();
                    while let Some(held) = changes.next_completed_where(complete) {
                        table_times.push(held);
                    }
                    let mut table_times = table_times.into_iter().peekable();
                    let mut joined = Vec::new();
                    let mut earliest: Option<Capability<u64>> = None;
                    while let Some((time, cap, batch)) = events.next_completed_where(complete) {
                        while let Some((_, _, changes)) =
                            table_times.next_if(|(t, _, _)| *t <= time)
                        {
                            rows.apply(changes);
                        }
                        for ((key, event), diff) in batch {
                            rows.look_up(&key, &event.row, pad_to, &mut |row, times| {
                                joined.push((row, time, diff * times));
                            });
                        }
                        earliest.get_or_insert(cap);
                    }
                    for (_, _, changes) in table_times {
                        rows.apply(changes);
                    }
                    if let Some(cap) = earliest {
                        output.session(&cap).give_container(&mut joined);
                    }
                    if let Some(gauge) = &gauge {
                        gauge.set(rows.len());
                    }
                }
            },
        )
        .as_collection()
}

/// The table's rows by join key, each with its multiplicity (never zero).
#[derive(Default)]
struct TableRows {
    by_key: HashMap<HashedRow, Vec<(HashedRow, i64)>>,
    len: usize,
}

impl TableRows {
    fn len(&self) -> usize {
        self.len
    }

    /// Applies one time's changes. A row whose key has a null never joins, so it is not kept.
    fn apply(&mut self, changes: Vec<(KeyedRow, i64)>) {
        if self.by_key.capacity() == 0 {
            self.by_key = HashMap::with_capacity(changes.len());
        }
        for ((key, row), diff) in changes {
            if has_null(&key) {
                continue;
            }
            match self.by_key.entry(key) {
                Entry::Occupied(mut entry) => {
                    let rows = entry.get_mut();
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
                        entry.remove();
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(vec![(row, diff)]);
                    self.len += 1;
                }
            }
        }
    }

    /// Tells `emit` each joined row of `event` under `key` with the table row's multiplicity;
    /// with `pad_to` and no match, the event padded with nulls, once.
    fn look_up(
        &self,
        key: &HashedRow,
        event: &Row,
        pad_to: Option<usize>,
        emit: &mut impl FnMut(Row, i64),
    ) {
        let matches = match has_null(key) {
            true => None,
            false => self.by_key.get(key),
        };
        match (matches, pad_to) {
            (Some(rows), _) => {
                for (row, times) in rows {
                    let mut values = Vec::with_capacity(event.0.len() + row.row.0.len());
                    values.extend(event.0.iter().cloned());
                    values.extend(row.row.0.iter().cloned());
                    emit(Row(values), *times);
                }
            }
            (None, Some(width)) => {
                let mut values = Vec::with_capacity(event.0.len() + width);
                values.extend(event.0.iter().cloned());
                values.extend(std::iter::repeat_n(Value::Null, width));
                emit(Row(values), 1);
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
