//! The Rust builder API: pipelines in the fluent style of Flink and Kafka Streams.
//!
//! ```
//! use kvflow::builder::{Agg, Pipeline, PlanBuilder, Window};
//!
//! let plan = PlanBuilder::new()
//!     .pipeline(
//!         Pipeline::from_events("per_prefix")
//!             .filter("kind <> 'delete'")
//!             .map([("prefix", "split_part(key, '_', 1)"), ("ts", "ts"), ("v", "CAST(value AS INT)")])
//!             .window(Window::tumbling(1000))
//!             .group_by(["prefix"])
//!             .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
//!     )
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     plan.pipeline("per_prefix").unwrap().schema().names(),
//!     ["window_start", "window_end", "prefix", "count", "sum"]
//! );
//! ```
//!
//! Expressions are SQL text, compiled when the plan is built; the builder lowers into the
//! same [`Plan`] as dataflow files do.

use crate::change::EventKind;
use crate::plan::lower::{
    AggSpec, LowerError, Origin, PipelineSpec, SourceSpec, StepSpec, Text, WindowSpec, lower,
};
use crate::plan::{AggFunc, Emission, JoinKind, Plan, View, WindowKind};

/// Collects sources and pipelines, then lowers them into a [`Plan`].
#[derive(Clone, Debug, Default)]
pub struct PlanBuilder {
    sources: Vec<SourceSpec>,
    pipelines: Vec<PipelineSpec>,
}

impl PlanBuilder {
    pub fn new() -> PlanBuilder {
        PlanBuilder::default()
    }

    pub fn source(mut self, source: Source) -> PlanBuilder {
        self.sources.push(source.0);
        self
    }

    pub fn pipeline(mut self, pipeline: Pipeline) -> PlanBuilder {
        let Pipeline { spec, implicit } = pipeline;
        if let Some(view) = implicit
            && !self.sources.iter().any(|s| s.name.text == spec.from.text)
        {
            self.sources
                .push(Source::new(spec.from.text.clone(), view).0);
        }
        self.pipelines.push(spec);
        self
    }

    pub fn build(self) -> Result<Plan, LowerError> {
        lower(&self.sources, &self.pipelines)
    }
}

/// A named source: a view of the store, filtered by event kind and key.
#[derive(Clone, Debug)]
pub struct Source(SourceSpec);

impl Source {
    fn new(name: impl Into<String>, view: View) -> Source {
        Source(SourceSpec {
            name: Text::from(name.into()),
            view,
            kinds: Vec::new(),
            key_regex: None,
            max_out_of_orderness: 0,
        })
    }

    pub fn events(name: impl Into<String>) -> Source {
        Source::new(name, View::Events)
    }

    pub fn table(name: impl Into<String>) -> Source {
        Source::new(name, View::Table)
    }

    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Source {
        self.0.kinds = kinds.into_iter().collect();
        self
    }

    pub fn key_regex(mut self, regex: impl Into<String>) -> Source {
        self.0.key_regex = Some(Text::from(regex.into()));
        self
    }

    pub fn max_out_of_orderness(mut self, ms: u64) -> Source {
        self.0.max_out_of_orderness = ms;
        self
    }
}

/// An event-time window for the next aggregate.
#[derive(Clone, Copy, Debug)]
pub struct Window(WindowSpec);

impl Window {
    fn of(kind: WindowKind) -> Window {
        Window(WindowSpec {
            kind,
            emission: Emission::Final,
            allowed_lateness: 0,
        })
    }

    pub fn tumbling(size_ms: u64) -> Window {
        Window::of(WindowKind::Tumbling { size: size_ms })
    }

    pub fn sliding(size_ms: u64, slide_ms: u64) -> Window {
        Window::of(WindowKind::Sliding {
            size: size_ms,
            slide: slide_ms,
        })
    }

    pub fn session(gap_ms: u64) -> Window {
        Window::of(WindowKind::Session { gap: gap_ms })
    }

    /// Emit an update every time the window's aggregate changes.
    pub fn continuous(mut self) -> Window {
        self.0.emission = Emission::Continuous;
        self
    }

    pub fn allowed_lateness(mut self, ms: u64) -> Window {
        self.0.allowed_lateness = ms;
        self
    }
}

/// One aggregate output column.
#[derive(Clone, Debug)]
pub struct Agg(AggSpec);

impl Agg {
    fn of(name: &str, func: AggFunc, arg: Option<&str>) -> Agg {
        Agg(AggSpec {
            name: Text::from(name),
            func,
            arg: arg.map(Text::from),
            filter: None,
        })
    }

    /// `count(*)`: rows per group.
    pub fn count(name: &str) -> Agg {
        Agg::of(name, AggFunc::Count, None)
    }

    /// `count(expr)`: rows where `expr` is not null.
    pub fn count_of(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Count, Some(expr))
    }

    pub fn sum(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Sum, Some(expr))
    }

    pub fn min(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Min, Some(expr))
    }

    pub fn max(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Max, Some(expr))
    }

    pub fn avg(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Avg, Some(expr))
    }

    pub fn count_distinct(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::CountDistinct, Some(expr))
    }

    pub fn first(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::First, Some(expr))
    }

    pub fn last(name: &str, expr: &str) -> Agg {
        Agg::of(name, AggFunc::Last, Some(expr))
    }

    pub fn collect(name: &str, expr: &str, limit: usize) -> Agg {
        Agg::of(name, AggFunc::Collect { limit }, Some(expr))
    }
}

/// A pipeline under construction.
#[derive(Clone, Debug)]
pub struct Pipeline {
    spec: PipelineSpec,
    /// A view to create a source for when `from` names none (`from_events`, `from_table`).
    implicit: Option<View>,
}

impl Pipeline {
    fn new(name: &str, from: &str, implicit: Option<View>) -> Pipeline {
        Pipeline {
            spec: PipelineSpec {
                name: Text::from(name),
                from: Text::from(from),
                steps: Vec::new(),
                final_state: false,
                internal: false,
            },
            implicit,
        }
    }

    /// Over every change (a source called `events`, created if the plan has none).
    pub fn from_events(name: &str) -> Pipeline {
        Pipeline::new(name, "events", Some(View::Events))
    }

    /// Over the live key/value state (a source called `table`, created if needed).
    pub fn from_table(name: &str) -> Pipeline {
        Pipeline::new(name, "table", Some(View::Table))
    }

    /// Over a named source or an earlier pipeline.
    pub fn from_source(name: &str, from: &str) -> Pipeline {
        Pipeline::new(name, from, None)
    }

    fn step(mut self, step: StepSpec) -> Pipeline {
        self.spec.steps.push(step);
        self
    }

    pub fn filter(self, predicate: &str) -> Pipeline {
        self.step(StepSpec::Filter(Text::from(predicate)))
    }

    /// Projects each row to exactly these `(name, expression)` fields.
    pub fn map<'a>(self, fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Pipeline {
        let fields = fields
            .into_iter()
            .map(|(n, e)| (Text::from(n), Text::from(e)))
            .collect();
        self.step(StepSpec::Map(fields))
    }

    /// One row per element of the list `expr`, appended as field `name`.
    pub fn flat_map(self, name: &str, expr: &str) -> Pipeline {
        self.step(StepSpec::FlatMap {
            name: Text::from(name),
            expr: Text::from(expr),
        })
    }

    /// Windows the next aggregate.
    pub fn window(mut self, window: Window) -> Pipeline {
        if let Some(StepSpec::Aggregate { window: w, .. }) = self.pending_aggregate() {
            *w = Some(window.0);
        }
        self
    }

    /// Groups the next aggregate by these fields or paths (named by their last segment).
    pub fn group_by<'a>(self, fields: impl IntoIterator<Item = &'a str>) -> Pipeline {
        let named: Vec<(String, String)> = fields
            .into_iter()
            .map(|f| (f.rsplit('.').next().unwrap_or(f).to_string(), f.to_string()))
            .collect();
        self.group_by_exprs(named.iter().map(|(n, e)| (n.as_str(), e.as_str())))
    }

    /// Groups the next aggregate by `(name, expression)` pairs.
    pub fn group_by_exprs<'a>(
        mut self,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Pipeline {
        let fields: Vec<(Text, Text)> = fields
            .into_iter()
            .map(|(n, e)| (Text::from(n), Text::from(e)))
            .collect();
        if let Some(StepSpec::Aggregate { group_by, .. }) = self.pending_aggregate() {
            group_by.extend(fields);
        }
        self
    }

    /// Completes the aggregate that `window` / `group_by` started (or a global one).
    pub fn aggregate(mut self, aggs: impl IntoIterator<Item = Agg>) -> Pipeline {
        if let Some(StepSpec::Aggregate { aggs: list, .. }) = self.pending_aggregate() {
            list.extend(aggs.into_iter().map(|a| a.0));
        }
        self
    }

    /// The aggregate step being configured: the last step if it is an aggregate without
    /// aggregates yet, or a new one.
    fn pending_aggregate(&mut self) -> Option<&mut StepSpec> {
        let open = matches!(self.spec.steps.last(), Some(StepSpec::Aggregate { aggs, .. }) if aggs.is_empty());
        if !open {
            self.spec.steps.push(StepSpec::Aggregate {
                window: None,
                group_by: Vec::new(),
                aggs: Vec::new(),
                origin: Origin::default(),
            });
        }
        self.spec.steps.last_mut()
    }

    /// Inner join with a table source or a pipeline, on pairs of key expressions.
    pub fn join<'a>(
        self,
        with: &str,
        on: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Pipeline {
        self.join_kind(with, on, JoinKind::Inner)
    }

    /// Left outer join: unmatched left rows are kept with nulls on the right.
    pub fn left_join<'a>(
        self,
        with: &str,
        on: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Pipeline {
        self.join_kind(with, on, JoinKind::LeftOuter)
    }

    fn join_kind<'a>(
        self,
        with: &str,
        on: impl IntoIterator<Item = (&'a str, &'a str)>,
        kind: JoinKind,
    ) -> Pipeline {
        let (left_on, right_on) = on
            .into_iter()
            .map(|(l, r)| (Text::from(l), Text::from(r)))
            .unzip();
        self.step(StepSpec::Join {
            with: Text::from(with),
            left_on,
            right_on,
            kind,
        })
    }

    /// Also write the consolidated final state at the end of a bounded run.
    pub fn with_final_state(mut self) -> Pipeline {
        self.spec.final_state = true;
        self
    }
}
