//! Projection at the source: which fields of a source's rows a pipeline reads.
//!
//! A source that feeds row-local steps (and the aggregate they may feed) needs to fill in
//! only the fields those steps and the aggregate read; the others can stay NULL. Two things
//! see a source row as it is and print it whole in an error line: every step up to and
//! including the first `Map` (which replaces the row), and, when there is no `Map`, the
//! aggregate. So a source is narrowed only when none of those can fail, as shown by
//! [`Expr::infallible`] over the kinds of the view's fields. A JSON field read by a step
//! that would fail on other kinds may be assumed to hold an integer (or NULL), and a window
//! over the view's `ts` assumes it within the range of event time: such assumptions are
//! checked per row ([`Projection::holds`]), and a row that breaks one is built whole.

use crate::change::time::MAX_EVENT_TS;
use crate::expr::{Expr, Shape};
use crate::schema::{Type, pos};
use crate::value::{Row, Value};

use super::node::{AggFunc, Node, WindowDef};

/// The fields of a source view a pipeline reads, and what a narrowed row must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    /// Per field of the view: whether anything reads it.
    pub keep: Vec<bool>,
    /// Fields a narrowed row must hold an integer or NULL in.
    pub ints: Vec<usize>,
    /// Whether a narrowed row's `ts` must be within the range of event time.
    pub timed: bool,
}

impl Projection {
    /// Whether field `i` is read.
    pub fn keeps(&self, i: usize) -> bool {
        self.keep.get(i).copied().unwrap_or(true)
    }

    /// Whether the narrowed `row` holds what the analysis assumed; if not, the row must be
    /// built whole so that any error line shows it as it is.
    pub fn holds(&self, row: &Row) -> bool {
        let ints = self
            .ints
            .iter()
            .all(|i| matches!(row.get(*i), Value::Int(_) | Value::Null));
        let time = !self.timed
            || matches!(row.get(pos::TS), Value::Int(ts) if (0..=MAX_EVENT_TS as i64).contains(ts));
        ints && time
    }
}

/// The projection of the source under `node` (an aggregate or a row-local step), or `None`
/// when the pipeline reads every field, when a step or the aggregate could fail on a source
/// row, or when `node` is not over a source.
pub fn source_projection(node: &Node) -> Option<Projection> {
    let (aggregate, top) = match node {
        Node::Aggregate { input, .. } => (Some(node), &**input),
        other => (None, other),
    };
    let (steps, schema) = steps_over_source(top)?;
    let width = schema.len();
    let readers = match steps.iter().position(|s| matches!(s, Node::Map { .. })) {
        Some(map) => Readers {
            steps: &steps[..=map],
            aggregate: None,
        },
        None => Readers {
            steps: &steps,
            aggregate: Some(aggregate?),
        },
    };
    let mut keep = vec![false; width];
    readers.fields(&mut |i| {
        if let Some(k) = keep.get_mut(i) {
            *k = true;
        }
    });
    if keep.iter().all(|k| *k) {
        return None;
    }
    let kind = |json: Shape| move |i: usize| Shape::of_field(schema, i, json);
    let ints = if readers.infallible(&kind(Shape::Any)) {
        Vec::new()
    } else if readers.infallible(&kind(Shape::Int)) {
        (0..width)
            .filter(|i| keep[*i] && schema.fields[*i].ty == Type::Json)
            .collect()
    } else {
        return None;
    };
    Some(Projection {
        keep,
        ints,
        timed: readers.windowed(),
    })
}

/// The row-local steps from the source up to `top` (in the order they apply), and the
/// source's schema; `None` if `top` is not a run of such steps over a source.
fn steps_over_source(top: &Node) -> Option<(Vec<&Node>, &crate::schema::Schema)> {
    let mut steps = Vec::new();
    let mut current = top;
    loop {
        match current {
            Node::Filter { input, .. } | Node::Map { input, .. } | Node::FlatMap { input, .. } => {
                steps.push(current);
                current = input;
            }
            Node::Source { schema, .. } => {
                steps.reverse();
                return Some((steps, schema));
            }
            _ => return None,
        }
    }
}

/// What sees a source row as it is: steps, and the aggregate when no step replaces the row.
struct Readers<'a> {
    steps: &'a [&'a Node],
    aggregate: Option<&'a Node>,
}

impl Readers<'_> {
    fn fields(&self, read: &mut impl FnMut(usize)) {
        for step in self.steps {
            for expr in step_exprs(step) {
                expr.fields_read(read);
            }
        }
        if let Some(Node::Aggregate {
            input,
            window,
            group_by,
            aggs,
            ..
        }) = self.aggregate
        {
            group_by.iter().for_each(|(_, e)| e.fields_read(read));
            aggs.iter()
                .flat_map(|a| &a.arg)
                .for_each(|e| e.fields_read(read));
            if let Some(ts) = ts_field(window, input) {
                read(ts);
            }
        }
    }

    fn infallible(&self, field: &impl Fn(usize) -> Shape) -> bool {
        let steps = self.steps.iter().all(|step| match step {
            Node::FlatMap { .. } => false,
            step => step_exprs(step).all(|e| e.infallible(field).is_some()),
        });
        steps
            && self
                .aggregate
                .is_none_or(|a| aggregate_infallible(a, field))
    }

    /// Whether the aggregate windows the source's own `ts`.
    fn windowed(&self) -> bool {
        matches!(
            self.aggregate,
            Some(Node::Aggregate {
                window: Some(_),
                ..
            })
        )
    }
}

fn step_exprs<'a>(step: &'a Node) -> Box<dyn Iterator<Item = &'a Expr> + 'a> {
    match step {
        Node::Filter { predicate, .. } => Box::new(std::iter::once(predicate)),
        Node::Map { fields, .. } => Box::new(fields.iter().map(|(_, e)| e)),
        Node::FlatMap { expr, .. } => Box::new(std::iter::once(expr)),
        _ => Box::new(std::iter::empty()),
    }
}

/// The event-time field an aggregate reads (as `render::aggregate_spec` finds it).
fn ts_field(window: &Option<WindowDef>, input: &Node) -> Option<usize> {
    window
        .map(|w| w.ts_field)
        .or_else(|| input.schema().index_of("ts"))
}

/// An aggregate over source rows cannot fail when its group key and arguments cannot, sum
/// and avg get integers, and a window reads the view's own `ts` (checked per row).
fn aggregate_infallible(aggregate: &Node, field: &impl Fn(usize) -> Shape) -> bool {
    let Node::Aggregate {
        window,
        group_by,
        aggs,
        ..
    } = aggregate
    else {
        return false;
    };
    let groups = group_by.iter().all(|(_, e)| e.infallible(field).is_some());
    let args = aggs.iter().all(|a| match (&a.arg, a.func) {
        (None, _) => true,
        (Some(e), AggFunc::Sum | AggFunc::Avg) => e.infallible(field) == Some(Shape::Int),
        (Some(e), _) => e.infallible(field).is_some(),
    });
    let window = window.is_none_or(|w| w.ts_field == pos::TS);
    groups && args && window
}

/// Projections of the benchmark's pipelines, and of pipelines that must keep every field.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Projection, source_projection};
    use crate::dataflow_file::load_str;

    const SOURCE: &str = "[sources.events]\nview = \"events\"\n";

    /// The projection of the only pipeline of a file with `steps` over the events view.
    fn projection(steps: &str) -> Option<Projection> {
        let text = format!("{SOURCE}[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n{steps}");
        let file = load_str(&text, "test.toml", Path::new(".")).expect("valid file");
        source_projection(&file.plan.pipelines[0].node)
    }

    fn keep(fields: &[usize]) -> Vec<bool> {
        (0..6).map(|i| fields.contains(&i)).collect()
    }

    #[test]
    fn a_map_keeps_only_what_it_reads() {
        let p = projection(
            "[[pipelines.steps]]\nmap = { prefix = \"split_part(key, '_', 1)\", ts = \"ts\" }\n\
             [[pipelines.steps]]\nwindow = { kind = \"sliding\", size = 2000, slide = 500 }\n\
             group_by = [\"prefix\"]\naggregates = { count = \"count(*)\" }\n",
        )
        .expect("narrowed");
        assert_eq!(p.keep, keep(&[0, 1]));
        assert!(p.ints.is_empty() && !p.timed);
    }

    #[test]
    fn a_cast_of_the_value_assumes_an_integer() {
        let p = projection(
            "[[pipelines.steps]]\nmap = { prefix = \"split_part(key, '_', 1)\", ts = \"ts\", \
             v = \"CAST(value AS INT)\" }\n",
        )
        .expect("narrowed");
        assert_eq!(p.keep, keep(&[0, 1, 4]));
        assert_eq!(p.ints, vec![4]);
    }

    #[test]
    fn a_window_over_the_source_checks_its_ts() {
        let p = projection(
            "[[pipelines.steps]]\nwindow = { kind = \"session\", gap = 500 }\n\
             group_by = [\"key\"]\naggregates = { count = \"count(*)\" }\n",
        )
        .expect("narrowed");
        assert_eq!(p.keep, keep(&[0, 1]));
        assert!(p.timed);
    }

    /// A JSON path with fixed steps gives NULL where the value has no such key or index, so
    /// it cannot fail; a computed subscript can.
    #[test]
    fn json_paths_with_fixed_steps_cannot_fail() {
        let p = projection(
            "[[pipelines.steps]]\nmap = { k = \"split_part(key, '_', 1)\", v = \"value.v\",              w = \"value.items[0].name\" }\n",
        )
        .expect("narrowed");
        assert_eq!(p.keep, keep(&[0, 4]));
        assert!(p.ints.is_empty());
        assert_eq!(
            projection("[[pipelines.steps]]\nmap = { v = \"value[key]\" }\n"),
            None
        );
    }

    #[test]
    fn a_filter_reads_only_its_fields() {
        let p = projection(
            "[[pipelines.steps]]\nfilter = \"key = 'x'\"\n\
             [[pipelines.steps]]\nmap = { k = \"kind\" }\n",
        )
        .expect("narrowed");
        assert_eq!(p.keep, keep(&[0, 2]));
    }

    #[test]
    fn rows_that_leave_the_pipeline_or_may_fail_are_whole() {
        // A filter's rows are the pipeline's output.
        assert_eq!(
            projection("[[pipelines.steps]]\nfilter = \"key = 'x'\"\n"),
            None
        );
        // A string in `value` fails the cast, and its error line shows the whole row.
        assert_eq!(
            projection("[[pipelines.steps]]\nmap = { v = \"CAST(lower(value) AS INT)\" }\n"),
            None
        );
        assert_eq!(
            projection("[[pipelines.steps]]\nmap = { v = \"value.amount / 2\" }\n"),
            None
        );
    }

    #[test]
    fn a_row_that_breaks_an_assumption_is_built_whole() {
        use crate::value::{Row, Value};
        let p = Projection {
            keep: keep(&[0, 1, 4]),
            ints: vec![4],
            timed: true,
        };
        let row = |ts: i64, value: Value| {
            Row(vec![
                Value::from("k"),
                Value::Int(ts),
                Value::Null,
                Value::Null,
                value,
                Value::Null,
            ])
        };
        assert!(p.holds(&row(5, Value::Int(1))));
        assert!(p.holds(&row(5, Value::Null)));
        assert!(!p.holds(&row(5, Value::from("x"))));
        assert!(!p.holds(&row(i64::MAX, Value::Int(1))));
    }
}
