//! Aggregates of any kind (min, max, first, last, count distinct, collect, beside count, sum
//! and avg) per key, over an input that only ever inserts.
//!
//! The general path (`render::reduce`) hands each key's whole multiset of argument rows to
//! differential's `reduce`, which keeps that multiset in an arrangement, and its output in
//! another, for ever: a retraction may come and must be answered from what remains. When the
//! plan shows that the input never retracts (an event stream, or events looked up in a table,
//! see `plan::Node::inserts_only`), every aggregate can be kept as it goes: a count, a sum,
//! the best row so far, the distinct values, the `limit` smallest values. That is what Flink
//! does for an append-only input, and what this operator does, in a hash map of one entry per
//! key.
//!
//! The output is the same collection as the general path's, update for update: at each time
//! where a key's aggregates change, its previous row is retracted and its new one inserted.
//! Ties are broken as the general path breaks them (it reads a key's argument rows in row
//! order): `min`, `first` keep the least row among equals, `max`, `last` the greatest; a `sum`
//! that meets a value it cannot add leaves the key without a row, as the general path's
//! error does for as long as that row is in the multiset, which here is for ever.
//!
//! An input that nets to insertions at each time may still carry updates that cancel within
//! one time (a lookup join whose table row changes at the event's own time sends the old pair
//! and its retraction). A time is therefore consolidated before it is applied whenever it
//! holds any difference that is not positive.

use std::collections::BTreeSet;

use differential_dataflow::consolidation::consolidate;
use foldhash::{HashMap, HashMapExt};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;

use super::aggregate::{SumSlot, compare_values};
use super::by_time::HeldByTime;
use super::state_gauge::StateGauge;
use crate::plan::AggFunc;
use crate::store::stable_hash;
use crate::value::row_pool;
use crate::value::{Row, Value};

/// `((group, args), time, diff)`: a key and one argument row `[ts, arg_0, arg_1, ...]`.
pub type KeyedArgs = ((Row, Row), u64, i64);

/// What the aggregates of a key are: each function, whether it counts rows (`count(*)`), and
/// whether it is a `first` or `last` with a FILTER (its argument a list of one, or null).
#[derive(Clone)]
pub struct AggFuncs {
    pub funcs: Vec<AggFunc>,
    pub counts_rows: Vec<bool>,
    pub filtered: Vec<bool>,
}

/// Every key's aggregates as updates of `group ++ aggregates` rows. Keys are brought to one
/// worker by their stable hash.
pub fn aggregate_appends<'scope>(
    keyed: Stream<'scope, u64, Vec<KeyedArgs>>,
    funcs: AggFuncs,
) -> Stream<'scope, u64, Vec<(Row, u64, i64)>> {
    let by_group = Exchange::new(|((group, _), _, _): &KeyedArgs| stable_hash(group));
    keyed.unary_frontier(by_group, "AggregateAppends", move |_cap, info| {
        let mut held: HeldByTime<Vec<((Row, Row), i64)>> = HeldByTime::default();
        let mut groups = Groups::new(funcs);
        let gauge = StateGauge::for_operator(info.global_id);
        move |(input, frontier), output| {
            input.for_each(|cap, data| held.hold_updates(&cap, data));
            let mut earliest = None;
            let mut updates = Vec::new();
            while let Some((time, cap, mut batch)) = held.next_completed(frontier) {
                earliest.get_or_insert(cap);
                groups.apply(&mut batch, &mut |row, diff| updates.push((row, time, diff)));
            }
            if let Some(cap) = earliest {
                output.session(&cap).give_container(&mut updates);
            }
            if let Some(gauge) = &gauge {
                gauge.set(groups.len());
            }
        }
    })
}

/// The aggregates of every key seen.
struct Groups {
    funcs: AggFuncs,
    states: HashMap<Row, GroupState>,
    /// The keys one time touched, each with its row before the time.
    touched: Vec<(Row, Option<Row>)>,
}

impl Groups {
    fn new(funcs: AggFuncs) -> Groups {
        Groups {
            funcs,
            states: HashMap::new(),
            touched: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    /// Applies one complete time's updates; tells `emit` each retracted (-1) and inserted
    /// (+1) row.
    fn apply(&mut self, batch: &mut Vec<((Row, Row), i64)>, emit: &mut impl FnMut(Row, i64)) {
        if batch.iter().any(|(_, diff)| *diff <= 0) {
            consolidate(batch);
        }
        for ((group, args), diff) in batch.drain(..) {
            if diff <= 0 {
                // NB: the plan promises no net retraction; one that came anyway has nothing
                // it could be taken from, since rows are not kept.
                tracing::error!("an insert-only aggregate received a retraction; ignored");
                continue;
            }
            self.add(group, &args, diff);
            row_pool::recycle(args);
        }
        for (group, before) in self.touched.drain(..) {
            let after = match self.states.get_mut(&group) {
                Some(state) => state.finish(&group, &self.funcs),
                None => None,
            };
            if before != after {
                if let Some(row) = before {
                    emit(row, -1);
                }
                if let Some(row) = after {
                    emit(row, 1);
                }
            }
        }
    }

    fn add(&mut self, group: Row, args: &Row, diff: i64) {
        let funcs = &self.funcs;
        if let Some(state) = self.states.get_mut(&group) {
            if !state.touched {
                let before = state.finish(&group, funcs);
                state.touched = true;
                self.touched.push((group, before));
            } else {
                row_pool::recycle(group);
            }
            state.add(args, diff, funcs);
            return;
        }
        let mut state = GroupState {
            slots: funcs.funcs.iter().map(|f| Slot::new(*f)).collect(),
            failed: false,
            touched: true,
        };
        state.add(args, diff, funcs);
        self.touched.push((group.clone(), None));
        self.states.insert(group, state);
    }
}

/// One key's aggregates.
struct GroupState {
    slots: Vec<Slot>,
    /// A `sum` or `avg` met a value it cannot add: the key has no row.
    failed: bool,
    /// Touched by the time being applied.
    touched: bool,
}

impl GroupState {
    fn add(&mut self, args: &Row, diff: i64, funcs: &AggFuncs) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.add(i, args, diff, funcs).is_err() {
                self.failed = true;
            }
        }
    }

    /// The key's row, `group ++ aggregates`; none once a sum failed. Clears `touched`.
    fn finish(&mut self, group: &Row, funcs: &AggFuncs) -> Option<Row> {
        self.touched = false;
        if self.failed {
            return None;
        }
        let mut values = Vec::with_capacity(group.0.len() + self.slots.len());
        values.extend_from_slice(&group.0);
        for (i, slot) in self.slots.iter().enumerate() {
            values.push(slot.finish(i, funcs));
        }
        Some(Row(values))
    }
}

/// What one aggregate keeps of the rows it has seen.
enum Slot {
    /// `count(*)`: rows; `count(arg)`: rows whose argument is not null.
    Count(i64),
    /// `sum` and `avg`.
    Sum(SumSlot),
    /// `min`, `first`: the least row by the function's order. `max`, `last`: the greatest.
    Best(Option<Row>),
    /// `count_distinct`: the distinct non-null arguments.
    Distinct(BTreeSet<Value>),
    /// `collect`: the `limit` least rows by argument, then row, with repeats.
    Least(Vec<Row>),
}

impl Slot {
    fn new(func: AggFunc) -> Slot {
        match func {
            AggFunc::Count => Slot::Count(0),
            AggFunc::Sum | AggFunc::Avg => Slot::Sum(SumSlot::default()),
            AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last => Slot::Best(None),
            AggFunc::CountDistinct => Slot::Distinct(BTreeSet::new()),
            AggFunc::Collect { .. } => Slot::Least(Vec::new()),
        }
    }

    /// Adds argument row `args` with multiplicity `diff` to aggregate `i`.
    fn add(&mut self, i: usize, args: &Row, diff: i64, funcs: &AggFuncs) -> Result<(), String> {
        let arg = args.get(i + 1);
        let func = funcs.funcs[i];
        match self {
            Slot::Count(rows) => {
                if funcs.counts_rows[i] || !arg.is_null() {
                    *rows += diff;
                }
            }
            Slot::Sum(slot) => slot.add(arg, diff)?,
            Slot::Best(best) => {
                let reads_nulls = matches!(func, AggFunc::First | AggFunc::Last)
                    && funcs.filtered.get(i) != Some(&true);
                if !arg.is_null() || reads_nulls {
                    let replace = best.as_ref().is_none_or(|b| better(func, i, args, b));
                    if replace {
                        *best = Some(args.clone());
                    }
                }
            }
            Slot::Distinct(values) => {
                if !arg.is_null() && !values.contains(arg) {
                    values.insert(arg.clone());
                }
            }
            Slot::Least(rows) => {
                if let AggFunc::Collect { limit } = func
                    && !arg.is_null()
                {
                    keep_least(rows, i, args, diff, limit);
                }
            }
        }
        Ok(())
    }

    fn finish(&self, i: usize, funcs: &AggFuncs) -> Value {
        match self {
            Slot::Count(rows) => Value::Int(*rows),
            Slot::Sum(slot) if funcs.funcs[i] == AggFunc::Sum => slot.sum(),
            Slot::Sum(slot) => slot.avg(),
            Slot::Best(None) => Value::Null,
            Slot::Best(Some(row)) if funcs.filtered.get(i) == Some(&true) => match row.get(i + 1) {
                Value::List(items) => items.first().cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            },
            Slot::Best(Some(row)) => row.get(i + 1).clone(),
            Slot::Distinct(values) => Value::Int(values.len() as i64),
            Slot::Least(rows) => Value::list(rows.iter().map(|r| r.get(i + 1).clone()).collect()),
        }
    }
}

/// Whether `candidate` should replace `best` for aggregate `i`: `min` and `max` order by the
/// argument, then the row; `first` and `last` by the row (its first field is `ts`).
fn better(func: AggFunc, i: usize, candidate: &Row, best: &Row) -> bool {
    let by_arg = || compare_values(candidate.get(i + 1), best.get(i + 1));
    match func {
        AggFunc::Min => by_arg().then_with(|| candidate.cmp(best)).is_lt(),
        AggFunc::Max => by_arg().then_with(|| candidate.cmp(best)).is_gt(),
        AggFunc::First => candidate < best,
        _ => candidate > best,
    }
}

/// Inserts `diff` copies of `args` into `rows`, kept sorted by argument `i` then row, and
/// keeps the `limit` least.
fn keep_least(rows: &mut Vec<Row>, i: usize, args: &Row, diff: i64, limit: usize) {
    let order = |row: &Row| {
        compare_values(row.get(i + 1), args.get(i + 1))
            .then_with(|| row.cmp(args))
            .is_le()
    };
    let at = rows.partition_point(order);
    if at >= limit {
        return;
    }
    let copies = (diff.max(0) as usize).min(limit - at);
    rows.splice(at..at, std::iter::repeat_n(args.clone(), copies));
    rows.truncate(limit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::aggregate::finish_from_multiset;
    use crate::rng::Rng;
    use std::collections::BTreeMap;

    fn all_funcs() -> AggFuncs {
        let funcs = vec![
            AggFunc::Count,
            AggFunc::Count,
            AggFunc::Sum,
            AggFunc::Avg,
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::First,
            AggFunc::Last,
            AggFunc::First,
            AggFunc::Last,
            AggFunc::CountDistinct,
            AggFunc::Collect { limit: 3 },
        ];
        let counts_rows = (0..funcs.len()).map(|i| i == 0).collect();
        let filtered = (0..funcs.len()).map(|i| i == 8 || i == 9).collect();
        AggFuncs {
            funcs,
            counts_rows,
            filtered,
        }
    }

    fn random_value(rng: &mut Rng) -> Value {
        match rng.below(6) {
            0 => Value::Null,
            1 | 2 => Value::Int(rng.below(5) as i64),
            3 => Value::from(rng.below(4) as f64 / 2.0),
            4 => Value::from(["a", "b"][rng.below(2) as usize]),
            _ => Value::Int(-(rng.below(3) as i64)),
        }
    }

    /// A random argument row `[ts, args...]`; the filtered first/last take a list of one.
    fn random_args(rng: &mut Rng, funcs: &AggFuncs, numeric_sums: bool) -> Row {
        let mut values = vec![Value::Int(rng.below(4) as i64)];
        for i in 0..funcs.funcs.len() {
            let value = random_value(rng);
            let value = match (funcs.funcs[i], funcs.filtered[i]) {
                (_, true) if value.is_null() => Value::Null,
                (_, true) => Value::list(vec![value]),
                (AggFunc::Sum | AggFunc::Avg, _) if numeric_sums && value.as_f64().is_none() => {
                    Value::Int(1)
                }
                _ => value,
            };
            values.push(value);
        }
        Row(values)
    }

    /// The general path's row for one key from its multiset, in row order as `reduce` reads it.
    fn oracle(group: &Row, multiset: &BTreeMap<Row, i64>, funcs: &AggFuncs) -> Option<Row> {
        let input: Vec<(&Row, i64)> = multiset.iter().map(|(r, d)| (r, *d)).collect();
        let marks = (funcs.counts_rows.as_slice(), funcs.filtered.as_slice());
        let values = finish_from_multiset(&funcs.funcs, marks, &input).ok()?;
        let mut row = group.0.clone();
        row.extend(values);
        Some(Row(row))
    }

    #[test]
    fn matches_the_multiset_aggregates_after_every_time() {
        let funcs = all_funcs();
        for seed in 0..40 {
            let mut rng = Rng::new(seed, 0);
            let numeric_sums = seed % 4 != 0;
            let mut groups = Groups::new(funcs.clone());
            let mut multisets: BTreeMap<Row, BTreeMap<Row, i64>> = BTreeMap::new();
            let mut shown: BTreeMap<Row, i64> = BTreeMap::new();
            for _time in 0..30 {
                let mut batch = Vec::new();
                for _ in 0..rng.below(6) {
                    let group = Row(vec![Value::Int(rng.below(3) as i64)]);
                    let args = random_args(&mut rng, &funcs, numeric_sums);
                    let diff = 1 + rng.below(2) as i64;
                    *multisets
                        .entry(group.clone())
                        .or_default()
                        .entry(args.clone())
                        .or_default() += diff;
                    batch.push(((group.clone(), args.clone()), diff));
                    if rng.below(4) == 0 {
                        // a pair that cancels within the time
                        batch.push(((group.clone(), args.clone()), 1));
                        batch.push(((group, args), -1));
                    }
                }
                groups.apply(&mut batch, &mut |row, diff| {
                    *shown.entry(row).or_default() += diff;
                });
                shown.retain(|_, d| *d != 0);
                let expected: BTreeMap<Row, i64> = multisets
                    .iter()
                    .filter_map(|(g, m)| oracle(g, m, &funcs))
                    .map(|row| (row, 1))
                    .collect();
                assert_eq!(shown, expected, "seed {seed}");
            }
        }
    }

    #[test]
    fn a_time_that_changes_nothing_emits_nothing() {
        let funcs = AggFuncs {
            funcs: vec![AggFunc::Max],
            counts_rows: vec![false],
            filtered: vec![false],
        };
        let mut groups = Groups::new(funcs);
        let group = Row(vec![Value::from("k")]);
        let args = |v: i64| Row(vec![Value::Int(0), Value::Int(v)]);
        let mut seen = Vec::new();
        let mut batch = vec![((group.clone(), args(5)), 1)];
        groups.apply(&mut batch, &mut |row, diff| seen.push((row, diff)));
        let mut batch = vec![((group.clone(), args(3)), 1)];
        groups.apply(&mut batch, &mut |row, diff| seen.push((row, diff)));
        let row = |v: i64| Row(vec![Value::from("k"), Value::Int(v)]);
        assert_eq!(seen, vec![(row(5), 1)]);
        let mut batch = vec![((group, args(9)), 1)];
        groups.apply(&mut batch, &mut |row, diff| seen.push((row, diff)));
        assert_eq!(seen, vec![(row(5), 1), (row(5), -1), (row(9), 1)]);
    }
}
