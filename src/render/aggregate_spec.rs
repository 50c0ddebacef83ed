//! What render knows about one aggregate node: its group key, arguments and functions, how
//! a row is evaluated into them, and the fixed windows rows are assigned to. Shared by the
//! two aggregation paths (`fold` for abelian aggregates, `reduce` for the others).

use std::ops::Range;

use crate::expr::{Expr, Shape};
use crate::operators::fallible::RecordError;
use crate::operators::window::{WindowTiming, window_ts};
use crate::plan::{AggDef, AggFunc, WindowDef};
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::chain::{self, RowChain};
use super::row_json;
use super::source::SharedRows;

/// Fixed windows to assign rows to: `size`, `slide` and their timing.
#[derive(Clone, Copy)]
pub struct FixedWindows {
    pub size: u64,
    pub slide: u64,
    pub timing: WindowTiming,
}

/// Everything render needs to know about one aggregate node.
#[derive(Clone)]
pub struct AggregateSpec {
    schema: Schema,
    pub(super) window: Option<WindowDef>,
    group_exprs: Vec<Expr>,
    /// When the group is a run of the input's fields, in order: those fields, so a row's
    /// group can be read in place ([`Self::group_in_place`]).
    group_fields: Option<Range<usize>>,
    arg_exprs: Vec<Option<Expr>>,
    pub(super) funcs: Vec<AggFunc>,
    pub(super) counts_rows: Vec<bool>,
    /// The FILTER condition of each `first` and `last` that has one: their argument is
    /// `[arg]` (a list of one) in a row the condition keeps, null in one it drops.
    first_last_filters: Vec<Option<Expr>>,
    ts_index: Option<usize>,
    pub(super) step: String,
    /// Row-local steps between the aggregate's input and itself (see `render::chain`).
    pub(super) chain: RowChain,
    /// The input never retracts (the events view, and steps over it).
    pub(super) append_only: bool,
    /// Each time's updates of the input net to insertions (see `Node::inserts_only`).
    pub(super) inserts_only: bool,
    /// Where a row read in place carries the value of each group and argument expression,
    /// after the input's fields, when it does (see [`Self::read_derived`]).
    derived_group: Vec<Option<usize>>,
    /// When every group expression is derived, at consecutive places in order: those places.
    derived_group_run: Option<Range<usize>>,
    derived_args: Vec<Option<usize>>,
}

impl AggregateSpec {
    pub fn new(
        schema: &Schema,
        window: Option<WindowDef>,
        group_by: &[(String, Expr)],
        aggs: &[AggDef],
        chain: RowChain,
        (append_only, inserts_only): (bool, bool),
    ) -> AggregateSpec {
        AggregateSpec {
            schema: schema.clone(),
            window,
            group_exprs: group_by.iter().map(|(_, e)| e.clone()).collect(),
            group_fields: field_run(group_by.iter().map(|(_, e)| e)),
            arg_exprs: aggs.iter().map(|a| a.arg.clone()).collect(),
            funcs: aggs.iter().map(|a| a.func).collect(),
            counts_rows: aggs.iter().map(|a| a.arg.is_none()).collect(),
            first_last_filters: aggs.iter().map(first_last_filter).collect(),
            ts_index: window.map(|w| w.ts_field).or_else(|| schema.index_of("ts")),
            step: format!(
                "Aggregate by [{}]",
                group_by
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            chain,
            append_only,
            inserts_only,
            derived_group: Vec::new(),
            derived_group_run: None,
            derived_args: Vec::new(),
        }
    }

    /// How many fields the aggregate's input rows have.
    pub(super) fn input_width(&self) -> usize {
        self.schema.len()
    }

    /// Reads the group and argument expressions that `rows` derives (see
    /// `render::source::SharedRows::derive`) from the rows read in place, which carry their
    /// values after the input's fields.
    pub(super) fn read_derived(&mut self, rows: &SharedRows) {
        let schema = &self.schema;
        let shape = |i: usize| Shape::of_field(schema, i, Shape::Any);
        let derive = |expr: &Expr| {
            let place = rows.derive(expr, &shape)?;
            Some(schema.len() + place)
        };
        self.derived_group = self.group_exprs.iter().map(derive).collect();
        self.derived_group_run = self
            .derived_group
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .and_then(|places| run(&places));
        self.derived_args = (self.arg_exprs.iter())
            .map(|expr| expr.as_ref().and_then(derive))
            .collect();
    }

    /// This aggregate read through the map that ends its chain: its group, arguments and
    /// event time become the map's expressions they name, evaluated over the map's input,
    /// and its chain loses the map. `None` unless every one of them names a map field
    /// (an argument may be absent), the event time names a field the map copies as it is,
    /// every map field nothing reads is a plain field or a literal (it cannot fail, so
    /// skipping it drops no row), and no aggregate is a filtered `first` or `last`.
    ///
    /// The two agree on every row both evaluate; a row the fused spec fails on must go
    /// through the map and this spec instead, for the error line that names the step that
    /// failed.
    pub(super) fn fuse_last_map(&self) -> Option<(AggregateSpec, RowChain)> {
        let (before, last, map, input) = self.chain.split_last_map()?;
        if self.first_last_filters.iter().any(Option::is_some) {
            return None;
        }
        let through = |expr: &Expr| expr.as_field().and_then(|f| map.get(f)).cloned();
        let group_exprs: Vec<Expr> = self
            .group_exprs
            .iter()
            .map(through)
            .collect::<Option<_>>()?;
        let arg_exprs: Vec<Option<Expr>> = self
            .arg_exprs
            .iter()
            .map(|arg| match arg {
                Some(expr) => through(expr).map(Some),
                None => Some(None),
            })
            .collect::<Option<_>>()?;
        let ts_index = match self.ts_index {
            Some(i) => Some(map.get(i)?.as_field()?),
            None => None,
        };
        if self.unread_can_fail(&map) {
            return None;
        }
        let fused = AggregateSpec {
            schema: input,
            group_fields: field_run(group_exprs.iter()),
            group_exprs,
            arg_exprs,
            ts_index,
            chain: before,
            ..self.clone()
        };
        Some((fused, last))
    }

    /// Whether a field of `map` (the map that ends the chain) that this aggregate does not
    /// read could fail: anything but a field or a literal.
    fn unread_can_fail(&self, map: &[Expr]) -> bool {
        let read: Vec<usize> = (self.group_exprs.iter())
            .chain(self.arg_exprs.iter().flatten())
            .filter_map(Expr::as_field)
            .chain(self.ts_index)
            .collect();
        map.iter().enumerate().any(|(i, expr)| {
            !read.contains(&i) && expr.as_field().is_none() && expr.as_constant().is_none()
        })
    }

    /// Which aggregates are a filtered `first` or `last` (see `first_last_filters`).
    pub(super) fn filtered_first_last(&self) -> Vec<bool> {
        self.first_last_filters
            .iter()
            .map(Option::is_some)
            .collect()
    }

    pub(super) fn step(&self) -> &str {
        &self.step
    }

    pub(super) fn chain(&self) -> &RowChain {
        &self.chain
    }

    pub(super) fn funcs(&self) -> &[AggFunc] {
        &self.funcs
    }

    pub(super) fn is_abelian(&self) -> bool {
        self.funcs.iter().all(|f| f.is_abelian())
    }

    pub(super) fn timing(&self) -> Option<WindowTiming> {
        self.window.as_ref().map(WindowTiming::of)
    }

    /// Evaluates a row's group key, event time and argument row `[ts, arg_0, ..]`; with
    /// `derived`, `row` was read in place and carries its derived values.
    pub(super) fn evaluate(
        &self,
        row: &Row,
        derived: bool,
    ) -> Result<(Row, u64, Row), RecordError> {
        // NB: from the pool of row buffers: an insert-only aggregate hands them back.
        let mut group = chain::spare();
        group.reserve(self.group_exprs.len());
        let mut args = chain::spare();
        args.reserve(1 + self.arg_exprs.len());
        let ts = self.evaluate_into(row, Some(&mut group), &mut args, derived)?;
        Ok((Row(group), ts, Row(args)))
    }

    /// The group of `row` as the run of its fields it is, when it is one (see
    /// `group_fields`), or as the run of its derived values (when `derived`: the row is
    /// read in place and carries them). Reading a field cannot fail, and a derived value is
    /// its expression's, so this is the group that [`Self::evaluate_into`] would build,
    /// without a copy.
    pub(super) fn group_in_place<'r>(&self, row: &'r Row, derived: bool) -> Option<&'r [Value]> {
        let derived_run = || self.derived_group_run.clone().filter(|_| derived);
        self.group_fields
            .clone()
            .or_else(derived_run)
            .and_then(|fields| row.0.get(fields))
    }

    /// [`Self::evaluate`] into reusable buffers: appends the group key to `group` (unless
    /// `None`: the caller reads it in place) and the arguments `[ts, arg_0, ..]` to `args`;
    /// returns the event time.
    pub(super) fn evaluate_into(
        &self,
        row: &Row,
        group: Option<&mut Vec<Value>>,
        args: &mut Vec<Value>,
        derived: bool,
    ) -> Result<u64, RecordError> {
        let fail = |message: String| RecordError {
            message,
            record: row_json(row, &self.schema),
        };
        // NB: a derived value is the expression's over this row; a row without its derived
        // values (see `SharedRows::derive`) has the expression evaluated here.
        let eval = |expr: &Expr, place: Option<&Option<usize>>| match place {
            Some(Some(at)) if derived => row
                .0
                .get(*at)
                .map_or_else(|| expr.eval(row), |v| Ok(v.clone())),
            _ => expr.eval(row),
        };
        if let Some(group) = group {
            for (i, expr) in self.group_exprs.iter().enumerate() {
                let place = self.derived_group.get(i);
                group.push(eval(expr, place).map_err(|e| fail(e.message))?);
            }
        }
        let ts_value = self.ts_index.map_or(Value::Null, |i| row.get(i).clone());
        let ts = match (&ts_value, self.window.is_some()) {
            (value, true) => window_ts(value).map_err(fail)?,
            (Value::Int(ts), false) if *ts >= 0 => *ts as u64,
            (_, false) => 0,
        };
        args.push(ts_value);
        let filters = self.first_last_filters.iter();
        let exprs = self.arg_exprs.iter().enumerate();
        for (((i, expr), func), filter) in exprs.zip(&self.funcs).zip(filters) {
            let value = match expr {
                Some(expr) => eval(expr, self.derived_args.get(i)).map_err(|e| fail(e.message))?,
                None => Value::Null,
            };
            if let Some(condition) = filter {
                let kept = condition.eval(row).map_err(|e| fail(e.message))?;
                let value = match kept {
                    Value::Bool(true) => Value::list(vec![value]),
                    _ => Value::Null,
                };
                args.push(value);
                continue;
            }
            let numeric = matches!(value, Value::Null | Value::Int(_) | Value::Float(_));
            if matches!(func, AggFunc::Sum | AggFunc::Avg) && !numeric {
                return Err(fail(format!(
                    "{} needs a number, got {}",
                    func.name(),
                    value.type_name()
                )));
            }
            args.push(value);
        }
        Ok(ts)
    }
}

/// The fields `exprs` read, when each is a plain field and they are consecutive and in order.
fn field_run<'e>(exprs: impl Iterator<Item = &'e Expr>) -> Option<Range<usize>> {
    let fields: Vec<usize> = exprs.map(Expr::as_field).collect::<Option<_>>()?;
    run(&fields)
}

/// `places` as a range, when they are consecutive and in order (and there is one).
fn run(places: &[usize]) -> Option<Range<usize>> {
    let first = *places.first()?;
    let consecutive = places.iter().enumerate().all(|(i, f)| *f == first + i);
    consecutive.then(|| first..first + places.len())
}

/// The FILTER condition of a `first` or `last` aggregate.
fn first_last_filter(agg: &AggDef) -> Option<Expr> {
    let first_last = matches!(agg.func, AggFunc::First | AggFunc::Last);
    agg.filter
        .as_ref()
        .filter(|_| first_last)
        .map(|f| f.condition.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(texts: &[&str]) -> Vec<Expr> {
        let schema = Schema::events();
        texts
            .iter()
            .map(|t| Expr::compile(t, &schema).unwrap())
            .collect()
    }

    /// Only plain fields, consecutive and in order, are read in place.
    #[test]
    fn a_group_is_read_in_place_only_when_it_is_a_run_of_fields() {
        let run = |texts: &[&str]| field_run(exprs(texts).iter());
        assert_eq!(run(&["ts", "kind"]), Some(1..3));
        assert_eq!(run(&["key"]), Some(0..1));
        assert_eq!(run(&["kind", "ts"]), None);
        assert_eq!(run(&["key", "kind"]), None);
        assert_eq!(run(&["split_part(key, '_', 1)"]), None);
        assert_eq!(run(&[]), None);
    }
}
