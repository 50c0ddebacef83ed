//! Group-by aggregates, optionally windowed.
//!
//! Three steps: *prepare* evaluates each row's group key and aggregate arguments (errors go
//! to the error output) and assigns windows; *aggregate* computes the aggregates per key;
//! windowed results then drop their release updates (see `operators::window`).
//!
//! Aggregation takes one of two paths. When every aggregate is count, sum or avg, rows become
//! [`AggDiff`] differences: pre-aggregated per key and time within each batch, then
//! accumulated by `count_total`, which keeps one accumulator per key. Otherwise a `reduce`
//! sees each key's multiset of argument rows and computes every aggregate from it. Both
//! retract exactly: an update replaces its old contribution, a delete removes it.

use foldhash::{HashMap, HashMapExt};

use differential_dataflow::difference::IsZero;
use differential_dataflow::operators::CountTotal;
use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::{Filter, Map};

use crate::expr::Expr;
use crate::operators::aggregate::{AggDiff, finish_from_multiset};
use crate::operators::fallible::{Lines, Outputs, RecordError, Rows, error_line, split_fallible};
use crate::operators::window::WindowTiming;
use crate::operators::window::fixed::for_each_window;
use crate::operators::window::session::{SessionOut, SessionRow, sessionize};
use crate::plan::{AggDef, AggFunc, WindowDef, WindowKind};
use crate::schema::Schema;
use crate::value::{Row, Value};

use super::row_json;

/// Everything render needs to know about one aggregate node.
#[derive(Clone)]
pub struct AggregateSpec {
    schema: Schema,
    window: Option<WindowDef>,
    group_exprs: Vec<Expr>,
    arg_exprs: Vec<Option<Expr>>,
    funcs: Vec<AggFunc>,
    counts_rows: Vec<bool>,
    ts_index: Option<usize>,
    step: String,
}

impl AggregateSpec {
    pub fn new(
        schema: &Schema,
        window: Option<WindowDef>,
        group_by: &[(String, Expr)],
        aggs: &[AggDef],
    ) -> AggregateSpec {
        AggregateSpec {
            schema: schema.clone(),
            window,
            group_exprs: group_by.iter().map(|(_, e)| e.clone()).collect(),
            arg_exprs: aggs.iter().map(|a| a.arg.clone()).collect(),
            funcs: aggs.iter().map(|a| a.func).collect(),
            counts_rows: aggs.iter().map(|a| a.arg.is_none()).collect(),
            ts_index: window.map(|w| w.ts_field).or_else(|| schema.index_of("ts")),
            step: format!(
                "Aggregate by [{}]",
                group_by
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn is_abelian(&self) -> bool {
        self.funcs.iter().all(|f| f.is_abelian())
    }

    fn timing(&self) -> Option<WindowTiming> {
        self.window.as_ref().map(WindowTiming::of)
    }

    /// Evaluates a row's group key, event time and argument row `[ts, arg_0, ..]`.
    fn evaluate(&self, row: &Row) -> Result<(Row, u64, Row), RecordError> {
        let fail = |message: String| RecordError {
            message,
            record: row_json(row, &self.schema),
        };
        let mut group = Vec::with_capacity(self.group_exprs.len());
        for expr in &self.group_exprs {
            group.push(expr.eval(row).map_err(|e| fail(e.message))?);
        }
        let ts_value = self.ts_index.map_or(Value::Null, |i| row.get(i).clone());
        let ts = match (&ts_value, self.window.is_some()) {
            (Value::Int(ts), _) if *ts >= 0 => *ts as u64,
            (_, false) => 0,
            (other, true) => {
                return Err(fail(format!(
                    "window needs a non-negative integer ts, got {}",
                    other.type_name()
                )));
            }
        };
        let mut args = Vec::with_capacity(self.arg_exprs.len() + 1);
        args.push(ts_value);
        for (expr, func) in self.arg_exprs.iter().zip(&self.funcs) {
            let value = match expr {
                Some(expr) => expr.eval(row).map_err(|e| fail(e.message))?,
                None => Value::Null,
            };
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
        Ok((Row(group), ts, Row(args)))
    }
}

type Keyed = (Row, Row);

/// Renders an aggregate node: prepare, assign windows, aggregate, drop releases.
pub fn render_aggregate<'scope>(
    rows: Rows<'scope>,
    spec: AggregateSpec,
) -> (Rows<'scope>, Lines<'scope>) {
    if let Some(WindowKind::Session { gap }) = spec.window.map(|w| w.kind) {
        return render_sessions(rows, &spec, gap);
    }
    let (keyed, errors) = match spec.window.map(|w| w.kind) {
        Some(WindowKind::Tumbling { size }) => fixed_windows(rows, &spec, size, size),
        Some(WindowKind::Sliding { size, slide }) => fixed_windows(rows, &spec, size, slide),
        _ => {
            let (keyed, errors) = prepare(
                rows,
                &spec,
                |group, _ts, args, t, d, out: &mut Vec<(Keyed, u64, i64)>| {
                    out.push(((group, args), t, d));
                },
            );
            (keyed.as_collection(), errors)
        }
    };
    let aggregated = if spec.is_abelian() {
        aggregate_abelian(keyed, &spec)
    } else {
        aggregate_multiset(keyed, &spec)
    };
    let rows = match spec.timing() {
        Some(timing) => drop_releases(aggregated, timing),
        None => aggregated,
    };
    (rows, errors)
}

/// Session windows: the session operator assigns rows (or, for abelian aggregates, emits
/// per-session accumulators), then the shared aggregation and release filter follow.
fn render_sessions<'scope>(
    rows: Rows<'scope>,
    spec: &AggregateSpec,
    gap: u64,
) -> (Rows<'scope>, Lines<'scope>) {
    let timing = spec.timing().expect("windowed");
    let (session_rows, errors) = prepare(
        rows,
        spec,
        |group, ts, args, t, d, out: &mut Vec<(SessionRow, u64, i64)>| {
            out.push(((group, ts, args), t, d));
        },
    );
    let abelian = spec.is_abelian().then(|| spec.funcs.clone());
    let sessions = sessionize(session_rows.as_collection(), gap, timing, abelian.clone());
    let aggregated = if abelian.is_some() {
        let accs = sessions.flat_map(|out| match out {
            SessionOut::Acc(key, t, acc) => Some((key, t, acc)),
            SessionOut::Row(..) => None,
        });
        accumulate_abelian(accs, spec)
    } else {
        let keyed = sessions
            .flat_map(|out| match out {
                SessionOut::Row(keyed, t, d) => Some((keyed, t, d)),
                SessionOut::Acc(..) => None,
            })
            .as_collection();
        aggregate_multiset(keyed, spec)
    };
    (drop_releases(aggregated, timing), errors)
}

/// Evaluates rows and hands each `(group, ts, args)` to `emit` with its time and diff.
fn prepare<'scope, O, E>(
    rows: Rows<'scope>,
    spec: &AggregateSpec,
    mut emit: E,
) -> (Stream<'scope, u64, Vec<O>>, Lines<'scope>)
where
    O: Clone + 'static,
    E: FnMut(Row, u64, Row, u64, i64, &mut Vec<O>) + 'static,
{
    let spec = spec.clone();
    let name = spec.step.clone();
    split_fallible(
        rows.inner,
        &name,
        move |(row, t, d): (Row, u64, i64), _, out: &mut Outputs<O>| match spec.evaluate(&row) {
            Ok((group, ts, args)) => emit(group, ts, args, t, d, out.ok),
            Err(error) if d > 0 => out.side.push(error_line(&spec.step, &error)),
            Err(_) => {}
        },
    )
}

/// Assigns rows to fixed windows: one contribution pair per window (see `WindowTiming`).
fn fixed_windows<'scope>(
    rows: Rows<'scope>,
    spec: &AggregateSpec,
    size: u64,
    slide: u64,
) -> (VecCollection<'scope, u64, Keyed, i64>, Lines<'scope>) {
    let timing = spec.timing().expect("windowed");
    let (keyed, errors) = prepare(
        rows,
        spec,
        move |group, ts, args, t, d, out: &mut Vec<(Keyed, u64, i64)>| {
            for_each_window(ts, size, slide, |start, end| {
                let (insert, release) = timing.contribution_times(t, end);
                let mut key = Vec::with_capacity(group.0.len() + 2);
                key.push(Value::Int(start as i64));
                key.push(Value::Int(end as i64));
                key.extend(group.0.iter().cloned());
                let key = Row(key);
                out.push(((key.clone(), args.clone()), insert, d));
                out.push(((key, args.clone()), release, -d));
            });
        },
    );
    (keyed.as_collection(), errors)
}

/// Count, sum and avg as differences, pre-aggregated per batch and accumulated per key.
fn aggregate_abelian<'scope>(
    keyed: VecCollection<'scope, u64, Keyed, i64>,
    spec: &AggregateSpec,
) -> Rows<'scope> {
    accumulate_abelian(pre_aggregate(keyed.inner, spec.funcs.clone()), spec)
}

/// Accumulates per-key differences with `count_total` and finishes the aggregate values.
fn accumulate_abelian<'scope>(
    diffs: Stream<'scope, u64, Vec<(Row, u64, AggDiff)>>,
    spec: &AggregateSpec,
) -> Rows<'scope> {
    let funcs = spec.funcs.clone();
    let counts_rows = spec.counts_rows.clone();
    diffs
        .as_collection()
        .count_total_core::<i64>()
        .map(move |(key, acc)| {
            let mut values = key.0;
            values.extend(acc.finish(&funcs, &counts_rows));
            Row(values)
        })
}

/// Folds each activation's contributions per (key, time) before they reach `count_total`.
fn pre_aggregate<'scope>(
    keyed: Stream<'scope, u64, Vec<(Keyed, u64, i64)>>,
    funcs: Vec<AggFunc>,
) -> Stream<'scope, u64, Vec<(Row, u64, AggDiff)>> {
    keyed.unary(Pipeline, "PreAggregate", move |_cap, _info| {
        let mut folded: HashMap<(Row, u64), AggDiff> = HashMap::new();
        move |input, output| {
            let mut least: Option<Capability<u64>> = None;
            input.for_each(|cap, data| {
                if let Some(cap) = cap.retain_least(0)
                    && least.as_ref().is_none_or(|l| cap.time() < l.time())
                {
                    least = Some(cap);
                }
                for ((key, args), t, d) in data.drain(..) {
                    folded
                        .entry((key, t))
                        .or_default()
                        .add_row(&funcs, &args.0[1..], d);
                }
            });
            if let Some(cap) = least {
                let updates = folded
                    .drain()
                    .filter(|(_, diff)| !diff.is_zero())
                    .map(|((key, t), diff)| (key, t, diff));
                output.session(&cap).give_iterator(updates);
            }
        }
    })
}

/// Every aggregate from each key's multiset of argument rows.
fn aggregate_multiset<'scope>(
    keyed: VecCollection<'scope, u64, Keyed, i64>,
    spec: &AggregateSpec,
) -> Rows<'scope> {
    let funcs = spec.funcs.clone();
    let counts_rows = spec.counts_rows.clone();
    keyed
        .reduce(
            move |_key, input: &[(&Row, i64)], output: &mut Vec<(Row, i64)>| {
                if let Ok(values) = finish_from_multiset(&funcs, &counts_rows, input)
                    && input.iter().any(|(_, d)| *d > 0)
                {
                    output.push((Row(values), 1));
                }
            },
        )
        .map(|(key, aggs)| {
            let mut values = key.0;
            values.extend(aggs.0);
            Row(values)
        })
}

/// Drops the updates that release a closed window's state: a user sees a window's row
/// appear and be corrected, not disappear when its state is freed.
fn drop_releases(rows: Rows<'_>, timing: WindowTiming) -> Rows<'_> {
    rows.inner
        .filter(move |(row, t, d)| {
            let end = row.get(1).as_i64().unwrap_or(0).max(0) as u64;
            // NB: a row that appears at or after its window's expiry is not a release but a
            // session split off closed at birth (see `window::session`): keep it.
            *t < timing.expire_time(end) || *d > 0
        })
        .as_collection()
}
