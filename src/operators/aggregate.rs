//! Aggregate accumulators, shared by the two aggregation paths of `render::reduce`.
//!
//! Count, sum and avg travel as differences: [`AggDiff`] is an abelian group, so
//! differential consolidates contributions and retracts an update or delete by negation,
//! keeping one accumulator per group and nothing per record. Min, max, count_distinct,
//! first, last and collect need the multiset of values and go through a `reduce`, which
//! calls [`finish_from_multiset`].
//!
//! NB: float sums accumulate in fixed point (1e-9 units, `i128`) so that the sum does not
//! depend on the order of additions: results are byte-identical with 1 or 4 workers.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use differential_dataflow::difference::{Abelian, IsZero, Monoid, Semigroup};
use serde::{Deserialize, Serialize};

use crate::plan::AggFunc;
use crate::value::{F64, Row, Value};

const FIXED_SCALE: f64 = 1e9;

/// The sum of one numeric argument, exact and order-independent.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SumSlot {
    pub ints: i128,
    pub fixed: i128,
    pub floats: i64,
    pub values: i64,
}

impl SumSlot {
    /// Adds `value` with multiplicity `diff`; an error for a non-numeric value.
    pub fn add(&mut self, value: &Value, diff: i64) -> Result<(), String> {
        match value {
            Value::Null => {}
            Value::Int(i) => {
                self.ints += i128::from(*i) * i128::from(diff);
                self.values += diff;
            }
            Value::Float(F64(f)) => {
                if !f.is_finite() {
                    return Err(format!("cannot sum the non-finite number {f}"));
                }
                self.fixed += (f * FIXED_SCALE).round() as i128 * i128::from(diff);
                self.floats += diff;
                self.values += diff;
            }
            other => return Err(format!("cannot sum a {}", other.type_name())),
        }
        Ok(())
    }

    fn plus(&mut self, other: &SumSlot) {
        self.ints += other.ints;
        self.fixed += other.fixed;
        self.floats += other.floats;
        self.values += other.values;
    }

    fn is_zero(&self) -> bool {
        self.ints == 0 && self.fixed == 0 && self.floats == 0 && self.values == 0
    }

    /// SQL `sum`: NULL over no values; an integer unless a float took part.
    pub fn sum(&self) -> Value {
        if self.values == 0 {
            Value::Null
        } else if self.floats == 0 {
            Value::Int(self.ints.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        } else {
            Value::from(self.as_f64())
        }
    }

    pub fn avg(&self) -> Value {
        if self.values == 0 {
            Value::Null
        } else {
            Value::from(self.as_f64() / self.values as f64)
        }
    }

    fn as_f64(&self) -> f64 {
        self.ints as f64 + self.fixed as f64 / FIXED_SCALE
    }
}

/// The difference type of the abelian path: a row count and one sum per argument.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggDiff {
    pub rows: i64,
    pub slots: Vec<SumSlot>,
}

impl IsZero for AggDiff {
    fn is_zero(&self) -> bool {
        self.rows == 0 && self.slots.iter().all(SumSlot::is_zero)
    }
}

impl Semigroup for AggDiff {
    fn plus_equals(&mut self, rhs: &Self) {
        self.rows += rhs.rows;
        if self.slots.len() < rhs.slots.len() {
            self.slots.resize(rhs.slots.len(), SumSlot::default());
        }
        for (mine, theirs) in self.slots.iter_mut().zip(&rhs.slots) {
            mine.plus(theirs);
        }
    }
}

impl Monoid for AggDiff {
    fn zero() -> Self {
        AggDiff::default()
    }
}

impl Abelian for AggDiff {
    fn negate(&mut self) {
        self.rows = -self.rows;
        for slot in &mut self.slots {
            slot.ints = -slot.ints;
            slot.fixed = -slot.fixed;
            slot.floats = -slot.floats;
            slot.values = -slot.values;
        }
    }
}

impl AggDiff {
    /// The contribution of one row whose aggregate arguments are `args` (one per
    /// aggregate; `Null` for `count(*)`), with multiplicity `diff`.
    pub fn of_row(funcs: &[AggFunc], args: &[Value], diff: i64) -> Result<AggDiff, String> {
        let mut slots = vec![SumSlot::default(); funcs.len()];
        for ((func, arg), slot) in funcs.iter().zip(args).zip(&mut slots) {
            match func {
                AggFunc::Count => {
                    if !arg.is_null() {
                        slot.values += diff;
                    }
                }
                _ => slot.add(arg, diff)?,
            }
        }
        Ok(AggDiff { rows: diff, slots })
    }

    /// Adds one row's contribution in place (arguments already checked to be numeric where
    /// a sum needs them; anything else counts as null).
    ///
    /// A NULL argument changes no slot, so `count(*)` (whose argument is NULL: it counts
    /// `rows`) allocates none.
    pub fn add_row(&mut self, funcs: &[AggFunc], args: &[Value], diff: i64) {
        self.rows += diff;
        for (index, (func, arg)) in funcs.iter().zip(args).enumerate() {
            if arg.is_null() {
                continue;
            }
            if self.slots.len() <= index {
                self.slots.resize(funcs.len(), SumSlot::default());
            }
            let slot = &mut self.slots[index];
            match func {
                AggFunc::Count => slot.values += diff,
                _ => {
                    let _ = slot.add(arg, diff);
                }
            }
        }
    }

    /// The aggregate values, in the order of `funcs`. `counts_rows[i]` marks `count(*)`.
    pub fn finish(&self, funcs: &[AggFunc], counts_rows: &[bool]) -> Vec<Value> {
        let mut out = Vec::with_capacity(funcs.len());
        self.finish_into(funcs, counts_rows, &mut out);
        out
    }

    /// [`Self::finish`], appending the aggregates to `out`.
    pub fn finish_into(&self, funcs: &[AggFunc], counts_rows: &[bool], out: &mut Vec<Value>) {
        let empty = SumSlot::default();
        out.extend(funcs.iter().enumerate().map(|(i, func)| {
            let slot = self.slots.get(i).unwrap_or(&empty);
            match func {
                AggFunc::Count if counts_rows[i] => Value::Int(self.rows),
                AggFunc::Count => Value::Int(slot.values),
                AggFunc::Sum => slot.sum(),
                _ => slot.avg(),
            }
        }));
    }
}

/// The row of the least (`first`) or greatest (`last`) `ts` (value 0) among `rows`.
fn first_or_last<'a>(func: AggFunc, rows: impl Iterator<Item = &'a Row>) -> Option<&'a Row> {
    let by_ts = |a: &&Row, b: &&Row| a.get(0).cmp(b.get(0));
    match func {
        AggFunc::First => rows.min_by(by_ts),
        _ => rows.max_by(by_ts),
    }
}

/// Orders numbers numerically across int and float, everything else structurally.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if !matches!((a, b), (Value::Int(_), Value::Int(_))) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

/// Computes every aggregate from the multiset of argument rows. Each row is
/// `[ts, arg_0, arg_1, ...]`; `ts` orders `first` and `last`. A `first` or `last` marked in
/// `filtered` reads only the rows whose argument is not null, each argument a list holding
/// the value (see `render::aggregate_spec`).
pub fn finish_from_multiset(
    funcs: &[AggFunc],
    (counts_rows, filtered): (&[bool], &[bool]),
    input: &[(&Row, i64)],
) -> Result<Vec<Value>, String> {
    let live = || input.iter().filter(|(_, d)| *d > 0);
    let mut out = Vec::with_capacity(funcs.len());
    for (i, func) in funcs.iter().enumerate() {
        let arg = |row: &Row| row.get(i + 1).clone();
        let non_null = || live().filter(move |(row, _)| !row.get(i + 1).is_null());
        let value = match func {
            AggFunc::Count if counts_rows[i] => Value::Int(live().map(|(_, d)| *d).sum()),
            AggFunc::Count => Value::Int(non_null().map(|(_, d)| *d).sum()),
            AggFunc::Sum | AggFunc::Avg => {
                let mut slot = SumSlot::default();
                for (row, d) in live() {
                    slot.add(row.get(i + 1), *d)?;
                }
                if *func == AggFunc::Sum {
                    slot.sum()
                } else {
                    slot.avg()
                }
            }
            AggFunc::Min => non_null()
                .map(|(row, _)| arg(row))
                .min_by(compare_values)
                .unwrap_or(Value::Null),
            AggFunc::Max => non_null()
                .map(|(row, _)| arg(row))
                .max_by(compare_values)
                .unwrap_or(Value::Null),
            AggFunc::CountDistinct => {
                let distinct: BTreeSet<&Value> =
                    non_null().map(|(row, _)| row.get(i + 1)).collect();
                Value::Int(distinct.len() as i64)
            }
            AggFunc::First | AggFunc::Last if filtered.get(i) == Some(&true) => {
                let kept = non_null().map(|(row, _)| *row);
                let unwrap = |row: &Row| match row.get(i + 1) {
                    Value::List(items) => items.first().cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                first_or_last(*func, kept).map_or(Value::Null, unwrap)
            }
            AggFunc::First | AggFunc::Last => {
                first_or_last(*func, live().map(|(row, _)| *row)).map_or(Value::Null, arg)
            }
            AggFunc::Collect { limit } => {
                let mut items: Vec<Value> = Vec::new();
                for (row, d) in non_null() {
                    for _ in 0..*d {
                        items.push(arg(row));
                    }
                }
                items.sort_by(compare_values);
                items.truncate(*limit);
                Value::list(items)
            }
        };
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_retract_exactly() {
        let funcs = [AggFunc::Count, AggFunc::Sum, AggFunc::Avg];
        let rows = [true, false, false];
        let mut acc = AggDiff::zero();
        let a =
            AggDiff::of_row(&funcs, &[Value::Null, Value::Int(5), Value::from(0.1)], 1).unwrap();
        let b =
            AggDiff::of_row(&funcs, &[Value::Null, Value::Int(7), Value::from(0.2)], 1).unwrap();
        acc.plus_equals(&a);
        acc.plus_equals(&b);
        assert_eq!(
            acc.finish(&funcs, &rows),
            vec![Value::Int(2), Value::Int(12), Value::from(0.15)]
        );
        let mut neg = a.clone();
        neg.negate();
        acc.plus_equals(&neg);
        assert_eq!(acc.finish(&funcs, &rows)[1], Value::Int(7));
        let mut neg_b = b.clone();
        neg_b.negate();
        acc.plus_equals(&neg_b);
        assert!(acc.is_zero());
    }

    #[test]
    fn rows_added_in_place_finish_as_their_one_row_differences_and_count_star_keeps_no_slot() {
        let funcs = [AggFunc::Count, AggFunc::Sum, AggFunc::Count, AggFunc::Avg];
        let marks = [true, false, false, false];
        let rows = [
            [
                Value::Null,
                Value::Int(5),
                Value::from("x"),
                Value::from(0.5),
            ],
            [Value::Null, Value::Null, Value::Null, Value::Int(3)],
            [Value::Null, Value::Int(-2), Value::Int(1), Value::Null],
        ];
        let (mut in_place, mut summed) = (AggDiff::zero(), AggDiff::zero());
        for (row, diff) in rows.iter().zip([1, 2, 1]) {
            in_place.add_row(&funcs, row, diff);
            summed.plus_equals(&AggDiff::of_row(&funcs, row, diff).unwrap());
        }
        assert_eq!(
            in_place.finish(&funcs, &marks),
            summed.finish(&funcs, &marks)
        );
        assert_eq!(
            in_place.finish(&funcs, &marks),
            vec![
                Value::Int(4),
                Value::Int(3),
                Value::Int(2),
                Value::from(6.5 / 3.0)
            ]
        );
        let mut count_star = AggDiff::zero();
        count_star.add_row(&[AggFunc::Count], &[Value::Null], 3);
        assert!(count_star.slots.is_empty(), "count(*) needs no slot");
        assert_eq!(
            count_star.finish(&[AggFunc::Count], &[true]),
            vec![Value::Int(3)]
        );
    }

    #[test]
    fn float_sums_do_not_depend_on_order() {
        let values = [0.1, 0.7, 1e6 + 0.3, -2.25, 0.05];
        let mut forward = SumSlot::default();
        let mut backward = SumSlot::default();
        for v in values {
            forward.add(&Value::from(v), 1).unwrap();
        }
        for v in values.iter().rev() {
            backward.add(&Value::from(*v), 1).unwrap();
        }
        assert_eq!(forward.sum(), backward.sum());
    }

    #[test]
    fn multiset_aggregates() {
        let funcs = [
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::CountDistinct,
            AggFunc::First,
            AggFunc::Last,
        ];
        let r1 = Row(vec![
            Value::Int(30),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
        ]);
        let r2 = Row(vec![
            Value::Int(10),
            Value::from(2.5),
            Value::from(2.5),
            Value::from(2.5),
            Value::from(2.5),
            Value::from(2.5),
        ]);
        let r3 = Row(vec![
            Value::Int(20),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
            Value::Int(3),
        ]);
        let out = finish_from_multiset(
            &funcs,
            (&[false; 5], &[false; 5]),
            &[(&r1, 1), (&r2, 1), (&r3, 2)],
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                Value::from(2.5),
                Value::Int(3),
                Value::Int(2),
                Value::from(2.5),
                Value::Int(3)
            ]
        );
    }
}
