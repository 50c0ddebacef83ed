//! Plan -> timely/differential operators, one file per family of plan nodes.
//!
//! [`render_plan`] gets the stream of applied changes and returns, per pipeline, its rows (a
//! differential collection at watermark times), its late events and its errors. Errors and
//! late events travel as data on side streams, so one bad record never stops a worker.

mod aggregate_spec;
mod chain;
mod fold;
mod hash_join;
mod hashed_row;
mod interval_join;
mod join;
mod join_sides;
mod map_filter;
mod reduce;
mod source;
pub mod spans;
mod top_n;
mod window_join;
mod window_rows;
mod window_top_n;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use timely::dataflow::operators::Concatenate;

use self::chain::RowChain;
use self::spans::NodeSpans;
use crate::operators::fallible::{Lines, Rows};
use crate::plan::explain::graph::PlanGraph;
use crate::plan::projection::{Projection, source_projection};
use crate::plan::{JoinKind, JoinSides, Node, PipelineDef, Plan};
use crate::store::ChangeStream;

/// What render builds for one pipeline.
pub struct RenderedPipeline<'scope> {
    pub name: String,
    pub rows: Rows<'scope>,
    pub late: Lines<'scope>,
    pub errors: Lines<'scope>,
}

/// The side outputs a pipeline's nodes add to while it is rendered.
struct SideOutputs<'scope> {
    late: Vec<Lines<'scope>>,
    errors: Vec<Lines<'scope>>,
}

/// Renders every pipeline of `plan` over the store's `changes`.
/// `rows_in(index)` gives pipeline `index` (plan order) the counter of the changes its
/// sources admit on this worker. `spans` learns which graph node built each operator.
pub fn render_plan<'scope>(
    plan: &Plan,
    changes: ChangeStream<'scope>,
    rows_in: impl Fn(usize) -> Arc<AtomicU64>,
    spans: &RefCell<NodeSpans>,
) -> Vec<RenderedPipeline<'scope>> {
    let graph = PlanGraph::of(plan);
    let shared_fields = source::SharedFields::default();
    let mut rendered: HashMap<String, Rows<'scope>> = HashMap::new();
    let mut out = Vec::new();
    for (index, pipeline) in plan.pipelines.iter().enumerate() {
        let context = Context {
            plan,
            changes: &changes,
            rendered: &rendered,
            rows_in: rows_in(index),
            shared_fields: shared_fields.clone(),
            graph: &graph,
            spans,
        };
        let result = context.render_pipeline(pipeline);
        rendered.insert(pipeline.name.clone(), result.rows.clone());
        out.push(result);
    }
    out
}

impl<'scope> Context<'_, 'scope> {
    fn render_pipeline(&self, pipeline: &PipelineDef) -> RenderedPipeline<'scope> {
        let scope = self.changes.scope();
        let mut side = SideOutputs {
            late: Vec::new(),
            errors: Vec::new(),
        };
        let rows = self.render_node(&pipeline.node, &mut side);
        RenderedPipeline {
            name: pipeline.name.clone(),
            rows,
            late: scope.concatenate(side.late),
            errors: scope.concatenate(side.errors),
        }
    }

    /// Renders `node`, recording the operators it builds as its own.
    fn render_node(&self, node: &Node, side: &mut SideOutputs<'scope>) -> Rows<'scope> {
        match self.graph.id_of(node) {
            Some(id) => NodeSpans::within(
                self.spans,
                id,
                || self.next_id(),
                || self.render_operators(node, side),
            ),
            None => self.render_operators(node, side),
        }
    }

    /// The identifier timely gives the next operator (or channel) built on this worker.
    fn next_id(&self) -> usize {
        self.changes.scope().worker().peek_identifier()
    }
}

struct Context<'a, 'scope> {
    plan: &'a Plan,
    changes: &'a ChangeStream<'scope>,
    rendered: &'a HashMap<String, Rows<'scope>>,
    /// Counts the changes the pipeline's sources admit.
    rows_in: Arc<AtomicU64>,
    /// The fields of the events rows the worker's sources share (see `source`).
    shared_fields: source::SharedFields,
    graph: &'a PlanGraph,
    spans: &'a RefCell<NodeSpans>,
}

impl<'scope> Context<'_, 'scope> {
    fn render_operators(&self, node: &Node, side: &mut SideOutputs<'scope>) -> Rows<'scope> {
        match node {
            Node::Source {
                source, lateness, ..
            } => self.render_source((source, *lateness, None), &RowChain::default(), side),
            Node::Pipeline { name, .. } => self.rendered[name].clone(),
            Node::Filter { .. } | Node::Map { .. } | Node::FlatMap { .. } => {
                let (base, chain) = RowChain::split(node);
                if let Node::Source {
                    source, lateness, ..
                } = base
                {
                    let read = (source.as_str(), *lateness, source_projection(node));
                    return self.render_source(read, &chain, side);
                }
                let rows = self.render_node(base, side);
                let (rows, errors) = map_filter::render_chain(rows, &chain);
                side.errors.push(errors);
                rows
            }
            Node::Aggregate {
                input,
                window,
                group_by,
                aggs,
                ..
            } => {
                let (base, chain) = RowChain::split(input);
                let spec = aggregate_spec::AggregateSpec::new(
                    input.schema(),
                    *window,
                    group_by,
                    aggs,
                    chain,
                    (input.is_append_only(), input.inserts_only()),
                );
                let rows = match base {
                    Node::Source {
                        source, lateness, ..
                    } => {
                        // NB: an aggregate that folds or sessionizes reads the source's
                        // rows in the source's operator (see `fold` and `reduce`).
                        let read = (source.as_str(), *lateness, source_projection(node));
                        if let Some(windows) = reduce::abelian_fold(&spec) {
                            let diffs = self.fold_source(read, &spec, windows, side);
                            return reduce::finish_abelian(diffs, &spec);
                        }
                        if let Some(session) = reduce::session_window(&spec) {
                            let session_rows = self.prepare_source_sessions(read, &spec, side);
                            return reduce::sessions_of(session_rows, &spec, session);
                        }
                        self.render_source(read, &RowChain::default(), side)
                    }
                    base => self.render_node(base, side),
                };
                let (rows, errors) = reduce::render_aggregate(rows, spec);
                side.errors.push(errors);
                rows
            }
            Node::Join {
                left,
                right,
                left_keys,
                right_keys,
                kind,
                ..
            } => {
                let left_rows = self.render_node(left, side);
                let right_rows = self.render_node(right, side);
                let spec = join::JoinSpec {
                    left_schema: left.schema().clone(),
                    right_schema: right.schema().clone(),
                    left_keys: left_keys.clone(),
                    right_keys: right_keys.clone(),
                    kind: *kind,
                    left_append_only: left.is_append_only(),
                };
                let (rows, errors) = join::render_join(left_rows, right_rows, spec);
                side.errors.push(errors);
                rows
            }
            Node::TopN {
                input,
                partition_by,
                order_by,
                limit,
                ranking,
                rank_field,
                window_end,
                ..
            } => {
                let rows = self.render_node(input, side);
                let spec = top_n::TopNSpec {
                    schema: input.schema().clone(),
                    partition_by: partition_by.clone(),
                    order_by: order_by.clone(),
                    limit: *limit,
                    ranking: *ranking,
                    ranked: rank_field.is_some(),
                };
                let (rows, errors) = match window_end {
                    Some(end) => window_top_n::render_window_top_n(rows, spec, *end),
                    None => top_n::render_top_n(rows, spec),
                };
                side.errors.push(errors);
                rows
            }
            Node::Union { inputs, .. } => {
                let mut rendered = inputs.iter().map(|i| self.render_node(i, side));
                // NB: lowering gives a union at least two inputs.
                let first = rendered.next().expect("a union has inputs");
                first.concatenate(rendered.collect::<Vec<_>>())
            }
            Node::Window {
                input,
                kind,
                ts_field,
                ..
            } => {
                let rows = self.render_node(input, side);
                let spec = window_rows::WindowRows {
                    kind: *kind,
                    ts_field: *ts_field,
                    schema: input.schema().clone(),
                };
                let (rows, errors) = window_rows::render_window_rows(rows, spec);
                side.errors.push(errors);
                rows
            }
            Node::IntervalJoin {
                join,
                lower,
                upper,
                kind,
                ..
            } => {
                let (left, right) = self.render_sides(join, side);
                let (left_side, right_side) = join_sides(join, "IntervalJoin", *kind);
                let spec = interval_join::IntervalJoinSpec {
                    left: left_side,
                    right: right_side,
                    lower: *lower,
                    upper: *upper,
                    left_outer: *kind == JoinKind::LeftOuter,
                };
                let (rows, late, errors) = interval_join::render_interval_join(left, right, spec);
                side.late.push(late);
                side.errors.push(errors);
                rows
            }
            Node::WindowJoin { join, kind, .. } => {
                let (left, right) = self.render_sides(join, side);
                let (left_side, right_side) = join_sides(join, "WindowJoin", *kind);
                let (rows, late, errors) =
                    window_join::render_window_join(left, right, left_side, right_side);
                side.late.push(late);
                side.errors.push(errors);
                rows
            }
        }
    }

    fn render_sides(
        &self,
        join: &JoinSides,
        side: &mut SideOutputs<'scope>,
    ) -> (Rows<'scope>, Rows<'scope>) {
        (
            self.render_node(&join.left, side),
            self.render_node(&join.right, side),
        )
    }
}

/// What an interval or window join reads from each side.
fn join_sides(join: &JoinSides, op: &str, kind: JoinKind) -> (join_sides::Side, join_sides::Side) {
    let side =
        |node: &Node, keys: &[crate::expr::Expr], fields: &[usize], which: &str| join_sides::Side {
            keys: keys.to_vec(),
            fields: fields.to_vec(),
            schema: node.schema().clone(),
            step: format!("{op} ({which})"),
            keep_null_keys: false,
        };
    let mut left = side(&join.left, &join.left_keys, &join.left_fields, "left");
    left.keep_null_keys = kind == JoinKind::LeftOuter;
    (
        left,
        side(&join.right, &join.right_keys, &join.right_fields, "right"),
    )
}

impl<'scope> Context<'_, 'scope> {
    /// A source node's rows with `chain` applied in the same operator, filling in only the
    /// fields of `projection` (see `plan::projection`) when there is one.
    fn render_source(
        &self,
        read: SourceRead<'_>,
        chain: &RowChain,
        side: &mut SideOutputs<'scope>,
    ) -> Rows<'scope> {
        self.within_source(read, side, |changes, rows| {
            source::render_source(changes, rows, chain)
        })
    }

    /// A source node's rows folded in the source's operator by an abelian aggregate (see
    /// `fold`): the differences per group and time.
    fn fold_source(
        &self,
        read: SourceRead<'_>,
        spec: &aggregate_spec::AggregateSpec,
        windows: Option<aggregate_spec::FixedWindows>,
        side: &mut SideOutputs<'scope>,
    ) -> fold::Diffs<'scope> {
        self.within_source(read, side, |changes, rows| {
            fold::fold_source(changes, rows, spec, windows)
        })
    }

    /// A source node's session rows, evaluated by the aggregate in the source's operator
    /// (see `reduce::prepare_source_sessions`).
    fn prepare_source_sessions(
        &self,
        read: SourceRead<'_>,
        spec: &aggregate_spec::AggregateSpec,
        side: &mut SideOutputs<'scope>,
    ) -> reduce::SessionRows<'scope> {
        self.within_source(read, side, |changes, rows| {
            reduce::prepare_source_sessions(changes, rows, spec)
        })
    }

    /// What `build` makes of a source's changes and rows, as the source node's operator; the
    /// late events and error lines it returns go to `side`.
    fn within_source<T>(
        &self,
        (source, lateness, projection): SourceRead<'_>,
        side: &mut SideOutputs<'scope>,
        build: impl FnOnce(
            ChangeStream<'scope>,
            source::SourceRows,
        ) -> (T, Lines<'scope>, Lines<'scope>),
    ) -> T {
        // NB: validation guarantees the source exists.
        let def = self.plan.source(source).expect("validated source");
        let id = format!("src_{source}");
        let (out, late, errors) = NodeSpans::within(
            self.spans,
            &id,
            || self.next_id(),
            || {
                let fields = (projection, self.shared_fields.clone());
                let rows = source::SourceRows::new(def, self.rows_in.clone(), lateness, fields);
                build(self.changes.clone(), rows)
            },
        );
        side.late.push(late);
        side.errors.push(errors);
        out
    }
}

/// Which source a node reads, its allowed lateness and the fields it fills in.
type SourceRead<'a> = (&'a str, Option<u64>, Option<Projection>);

/// A row as a JSON object with its schema's names, for error and late lines.
pub(crate) fn row_json(row: &crate::value::Row, schema: &crate::schema::Schema) -> String {
    let mut out = String::new();
    row.write_json_object(&schema.names(), &mut out);
    out
}
