//! Plan nodes: sources, the row-at-a-time steps, window assignment, aggregates (optionally
//! windowed), joins (equi-joins, interval joins of event streams, window joins), top-N per
//! partition and unions.

use crate::change::EventKind;
use crate::expr::Expr;
use crate::schema::{Schema, Type};
use crate::store::shard::AppendOnlyKeys;

use super::sinks::SinkDefs;

/// The two views of the store on one timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// Every change, append-only: fields `key, ts, kind, seq, value, old`.
    Events,
    /// The live state of each key, with retractions: fields `key, ts, seq, value`.
    Table,
}

impl View {
    pub fn schema(self) -> Schema {
        match self {
            View::Events => Schema::events(),
            View::Table => Schema::table(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            View::Events => "events",
            View::Table => "table",
        }
    }
}

/// A named, filtered view of the store's changes.
#[derive(Clone, Debug)]
pub struct SourceDef {
    pub name: String,
    pub view: View,
    /// Event kinds to keep; empty keeps all.
    pub kinds: Vec<EventKind>,
    /// Keys to keep (a regex, matched anywhere; anchor it with `^...$`).
    pub key_regex: Option<crate::store::KeyPattern>,
    /// How far behind the largest ts seen an event may be and still be on time.
    pub max_out_of_orderness: u64,
}

impl SourceDef {
    pub fn new(name: impl Into<String>, view: View) -> SourceDef {
        SourceDef {
            name: name.into(),
            view,
            kinds: Vec::new(),
            key_regex: None,
            max_out_of_orderness: 0,
        }
    }

    /// Whether a change of `kind` to `key` belongs to this source.
    pub fn admits(&self, kind: EventKind, key: &str) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.key_regex.as_ref().is_none_or(|re| re.is_match(key))
    }
}

/// Event-time windows (DESIGN §4: epoch-aligned, half-open, Flink's conventions).
/// How a top-N ranks a partition's rows (Flink's `ROW_NUMBER`, `RANK` and `DENSE_RANK`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ranking {
    /// 1, 2, 3, … : each row (each copy of a repeated row) its own position.
    #[default]
    RowNumber,
    /// Rows equal on the order keys share a rank; the next rank skips past them (1, 1, 3).
    Rank,
    /// Rows equal on the order keys share a rank; the next rank follows (1, 1, 2).
    DenseRank,
}

impl Ranking {
    pub const ALL: [Ranking; 3] = [Ranking::RowNumber, Ranking::Rank, Ranking::DenseRank];

    /// The ranking a name gives (`row_number`, `rank`, `dense_rank`, any case).
    pub fn named(name: &str) -> Option<Ranking> {
        Ranking::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            Ranking::RowNumber => "row_number",
            Ranking::Rank => "rank",
            Ranking::DenseRank => "dense_rank",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    Tumbling {
        size: u64,
    },
    Sliding {
        size: u64,
        slide: u64,
    },
    /// Per group key; events at most `gap` apart share a session.
    Session {
        gap: u64,
    },
}

/// When a window's rows are emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Emission {
    /// One row per window when it closes, plus corrections within the allowed lateness.
    #[default]
    Final,
    /// An update every time the window's aggregate changes (a changelog).
    Continuous,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowDef {
    pub kind: WindowKind,
    pub emission: Emission,
    pub allowed_lateness: u64,
    /// Position of the event-time field (`ts`) in the aggregate's input.
    pub ts_field: usize,
}

/// Aggregate functions (DESIGN §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    CountDistinct,
    First,
    Last,
    /// Collects values into a sorted list of at most `limit` entries.
    Collect {
        limit: usize,
    },
}

impl AggFunc {
    /// The names of the functions, as both front ends spell them.
    pub const NAMES: &'static [&'static str] = &[
        "count",
        "sum",
        "min",
        "max",
        "avg",
        "count_distinct",
        "first",
        "last",
        "collect",
    ];
    /// `collect(x)` keeps at most this many values.
    pub const DEFAULT_COLLECT_LIMIT: usize = 100;

    /// The function named `name` (lower case); `collect` with the default limit.
    pub fn from_name(name: &str) -> Option<AggFunc> {
        Some(match name {
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "avg" => AggFunc::Avg,
            "count_distinct" => AggFunc::CountDistinct,
            "first" => AggFunc::First,
            "last" => AggFunc::Last,
            "collect" => AggFunc::Collect {
                limit: AggFunc::DEFAULT_COLLECT_LIMIT,
            },
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::CountDistinct => "count_distinct",
            AggFunc::First => "first",
            AggFunc::Last => "last",
            AggFunc::Collect { .. } => "collect",
        }
    }

    /// Count, sum and avg form an abelian group: they can travel as differences and
    /// retract by negation, without keeping the values they summarise.
    pub fn is_abelian(self) -> bool {
        matches!(self, AggFunc::Count | AggFunc::Sum | AggFunc::Avg)
    }

    pub fn output_type(self, arg: Option<Type>) -> Type {
        match self {
            AggFunc::Count | AggFunc::CountDistinct => Type::Int,
            AggFunc::Avg => Type::Float,
            AggFunc::Sum => match arg {
                Some(Type::Int) => Type::Int,
                Some(Type::Float) => Type::Float,
                _ => Type::Json,
            },
            AggFunc::Collect { .. } => Type::List,
            AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last => {
                arg.unwrap_or(Type::Json)
            }
        }
    }
}

/// One output column of an aggregate: `name = func(arg)`. `arg` is `None` for `count(*)`.
#[derive(Clone, Debug)]
pub struct AggDef {
    pub name: String,
    pub func: AggFunc,
    /// With a `filter`, the conditional argument `CASE WHEN filter THEN arg END` (`THEN 1`
    /// for `count(*)`): rows the filter drops give null, which the aggregate skips.
    pub arg: Option<Expr>,
    pub filter: Option<AggFilter>,
}

/// `FILTER (WHERE condition)` of an aggregate, as written (for `explain`).
#[derive(Clone, Debug)]
pub struct AggFilter {
    pub condition: Expr,
    /// The argument as written; `None` for `count(*)`.
    pub arg: Option<Expr>,
}

impl AggDef {
    /// The call as written: `count(*)`, `sum(x) FILTER (WHERE c)`.
    pub fn describe(&self) -> String {
        let written = match &self.filter {
            Some(f) => f.arg.as_ref(),
            None => self.arg.as_ref(),
        };
        let arg = written.map_or("*", |e| e.text());
        let filter = self.filter.as_ref().map_or(String::new(), |f| {
            format!(" FILTER (WHERE {})", f.condition.text())
        });
        format!("{}({arg}){filter}", self.func.name())
    }
}

/// One key of a top-N's order: the expression and whether it sorts descending.
#[derive(Clone, Debug)]
pub struct OrderKey {
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinKind {
    Inner,
    LeftOuter,
}

/// A plan node. Every node carries its output schema.
#[derive(Clone, Debug)]
pub enum Node {
    /// Rows of a source. `lateness` is `Some(bound)` in windowed pipelines: a row whose
    /// `ts + bound` is below the largest ts seen before it goes to the late output.
    Source {
        source: String,
        view: View,
        lateness: Option<u64>,
        schema: Schema,
    },
    /// The output of another pipeline (used as a join input).
    Pipeline {
        name: String,
        schema: Schema,
    },
    Filter {
        input: Box<Node>,
        predicate: Expr,
    },
    /// Projection: the output row is exactly `fields`.
    Map {
        input: Box<Node>,
        fields: Vec<(String, Expr)>,
        schema: Schema,
    },
    /// One output row per element of the list `expr`, the element as field `name`
    /// appended to the input row (a null or empty list gives no row).
    FlatMap {
        input: Box<Node>,
        name: String,
        expr: Expr,
        schema: Schema,
    },
    /// Group-by with aggregates, optionally per event-time window. Output fields:
    /// `window_start, window_end` (when windowed), the group fields, the aggregates.
    Aggregate {
        input: Box<Node>,
        window: Option<WindowDef>,
        group_by: Vec<(String, Expr)>,
        aggs: Vec<AggDef>,
        schema: Schema,
    },
    /// Equi-join on key expressions. Output fields are the left fields then the right
    /// fields, each named `<side name>.<field>`.
    Join {
        left: Box<Node>,
        right: Box<Node>,
        left_name: String,
        right_name: String,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        kind: JoinKind,
        schema: Schema,
    },
    /// The rows of each partition ranked `ranking` in `order_by` order (ties broken by the
    /// whole row), those ranked `limit` or better kept; with `rank_field`, each row's rank
    /// appended as that field. Retractions are exact: removing a row of the top promotes the
    /// next one. With `window_end` (the field's position in the input), a window top-N: the
    /// input's rows of a window all come by its close, and each window is ranked once then
    /// (see `plan::windowed`).
    TopN {
        input: Box<Node>,
        partition_by: Vec<Expr>,
        order_by: Vec<OrderKey>,
        limit: usize,
        ranking: Ranking,
        rank_field: Option<String>,
        window_end: Option<usize>,
        schema: Schema,
    },
    /// The rows of every input (`UNION ALL`): inputs of one schema (names from the first).
    Union {
        inputs: Vec<Node>,
        schema: Schema,
    },
    /// Window assignment (a window table function without an aggregate): each row once per
    /// fixed window that holds its `ts`, with `window_start, window_end` appended.
    Window {
        input: Box<Node>,
        kind: WindowKind,
        ts_field: usize,
        schema: Schema,
    },
    /// An interval join of two event streams: each pair of rows with equal keys whose times
    /// satisfy `left.ts - right.ts` within `[lower, upper]` (inclusive), once. State is
    /// released as the watermark passes (see `render::interval_join`). Fields as [`Node::Join`].
    IntervalJoin {
        join: Box<JoinSides>,
        lower: i64,
        upper: i64,
        /// Inner, or LEFT: an unmatched left row once, with NULLs, when no partner can come.
        kind: JoinKind,
        schema: Schema,
    },
    /// A window join: rows of both sides with equal `window_start`, `window_end` and keys,
    /// joined when the window closes (see `render::window_join`). Fields as [`Node::Join`].
    WindowJoin {
        join: Box<JoinSides>,
        /// Inner, or LEFT: a left row no right row of its window matched, once, with NULLs.
        kind: JoinKind,
        schema: Schema,
    },
}

/// The two inputs of an interval or window join, their names and their key expressions;
/// `left_fields` and `right_fields` are the positions of the fields the join reads beside
/// its keys (`ts`, or `window_start` and `window_end`) in each side's row.
#[derive(Clone, Debug)]
pub struct JoinSides {
    pub left: Node,
    pub right: Node,
    pub left_name: String,
    pub right_name: String,
    pub left_keys: Vec<Expr>,
    pub right_keys: Vec<Expr>,
    pub left_fields: Vec<usize>,
    pub right_fields: Vec<usize>,
}

impl Node {
    pub fn schema(&self) -> &Schema {
        match self {
            Node::Source { schema, .. }
            | Node::Pipeline { schema, .. }
            | Node::Map { schema, .. }
            | Node::FlatMap { schema, .. }
            | Node::Aggregate { schema, .. }
            | Node::Join { schema, .. }
            | Node::TopN { schema, .. }
            | Node::Union { schema, .. }
            | Node::Window { schema, .. }
            | Node::IntervalJoin { schema, .. }
            | Node::WindowJoin { schema, .. } => schema,
            Node::Filter { input, .. } => input.schema(),
        }
    }

    /// The stable operator name shown in plans and logs.
    pub fn op_name(&self) -> &'static str {
        match self {
            Node::Source { .. } => "Source",
            Node::Pipeline { .. } => "PipelineRef",
            Node::Filter { .. } => "Filter",
            Node::Map { .. } => "Map",
            Node::FlatMap { .. } => "FlatMap",
            Node::Aggregate { window: None, .. } => "Aggregate",
            Node::Aggregate {
                window: Some(_), ..
            } => "WindowAggregate",
            Node::Join { .. } => "Join",
            Node::TopN { .. } => "TopN",
            Node::Union { .. } => "Union",
            Node::Window { .. } => "Window",
            Node::IntervalJoin { .. } => "IntervalJoin",
            Node::WindowJoin { .. } => "WindowJoin",
        }
    }

    pub fn inputs(&self) -> Vec<&Node> {
        match self {
            Node::Source { .. } | Node::Pipeline { .. } => vec![],
            Node::Filter { input, .. }
            | Node::Map { input, .. }
            | Node::FlatMap { input, .. }
            | Node::Aggregate { input, .. }
            | Node::TopN { input, .. }
            | Node::Window { input, .. } => vec![input],
            Node::Join { left, right, .. } => vec![left, right],
            Node::IntervalJoin { join, .. } | Node::WindowJoin { join, .. } => {
                vec![&join.left, &join.right]
            }
            Node::Union { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// Whether every time's updates from this node net to insertions: no row it emits is
    /// ever retracted. Every append-only node does this, and so does events looked up in a
    /// table, whose joined rows are final when emitted (see `render::join`). Render keeps less
    /// state for such an input (`operators::append_aggregate`); what a user may join or window
    /// as an event stream stays [`Self::is_append_only`].
    pub fn inserts_only(&self) -> bool {
        match self {
            Node::Join { left, .. } => left.is_append_only(),
            Node::Filter { input, .. }
            | Node::Map { input, .. }
            | Node::FlatMap { input, .. }
            | Node::Window { input, .. } => input.inserts_only(),
            Node::Union { inputs, .. } => inputs.iter().all(Node::inserts_only),
            _ => self.is_append_only(),
        }
    }

    /// Whether the rows this node emits are ever retracted (a changelog) or only appended.
    pub fn is_append_only(&self) -> bool {
        match self {
            Node::Source { view, .. } => *view == View::Events,
            Node::Pipeline { .. } | Node::Join { .. } | Node::TopN { .. } => false,
            Node::Union { inputs, .. } => inputs.iter().all(Node::is_append_only),
            Node::Aggregate { window, .. } => match window {
                Some(w) => w.emission == Emission::Final && self.inputs()[0].is_append_only(),
                None => false,
            },
            Node::Filter { input, .. }
            | Node::Map { input, .. }
            | Node::FlatMap { input, .. }
            | Node::Window { input, .. } => input.is_append_only(),
            // NB: both joins emit a pair once, when it is final, and never retract it.
            Node::IntervalJoin { .. } | Node::WindowJoin { .. } => true,
        }
    }
}

/// A named pipeline: a tree of nodes; its rows, late rows and errors go to the run's outputs
/// under its name, and the plan's [`SinkDefs`] may read it too.
#[derive(Clone, Debug)]
pub struct PipelineDef {
    pub name: String,
    pub node: Node,
    /// Also write the final state (the consolidated output) at the end of a bounded run.
    pub final_state: bool,
    /// An intermediate result that feeds later pipelines and sinks: its rows and final state
    /// are not written (its late rows and errors still are, so nothing is lost quietly).
    pub internal: bool,
}

impl PipelineDef {
    pub fn schema(&self) -> &Schema {
        self.node.schema()
    }

    /// The fields that identify a row of a changelog: group and window fields of an
    /// aggregate; the whole row otherwise.
    pub fn key_fields(&self) -> usize {
        match &self.node {
            Node::Aggregate {
                window, group_by, ..
            } => group_by.len() + if window.is_some() { 2 } else { 0 },
            node => node.schema().len(),
        }
    }
}

/// A validated plan: sources and the pipelines over them, in dependency order.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub sources: Vec<SourceDef>,
    pub pipelines: Vec<PipelineDef>,
    /// Sync sinks, alerts and routes.
    pub sinks: SinkDefs,
    /// The keys the store keeps none of (`[store] append_only_keys`).
    pub append_only_keys: Option<AppendOnlyKeys>,
}

impl Plan {
    pub fn source(&self, name: &str) -> Option<&SourceDef> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn pipeline(&self, name: &str) -> Option<&PipelineDef> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    /// Adds `other`'s sources, pipelines and sinks (several dataflow files served as one);
    /// refused when a name is defined in both. Pipelines and sinks refer to each other by
    /// name, so `other`'s sinks keep reading `other`'s pipelines.
    pub fn merge(&mut self, other: Plan) -> Result<(), String> {
        if let Some(clash) = other
            .sources
            .iter()
            .find(|s| self.source(&s.name).is_some())
        {
            return Err(format!("source `{}` is defined twice", clash.name));
        }
        if let Some(clash) = other
            .pipelines
            .iter()
            .find(|p| self.pipeline(&p.name).is_some())
        {
            return Err(format!("pipeline `{}` is defined twice", clash.name));
        }
        self.sinks.merge(other.sinks)?;
        self.merge_append_only(other.append_only_keys)?;
        self.sources.extend(other.sources);
        self.pipelines.extend(other.pipelines);
        Ok(())
    }

    /// One store serves every file, so their append-only keys must agree.
    fn merge_append_only(&mut self, other: Option<AppendOnlyKeys>) -> Result<(), String> {
        match (&self.append_only_keys, other) {
            (_, None) => Ok(()),
            (None, other) => {
                self.append_only_keys = other;
                Ok(())
            }
            (Some(mine), Some(other)) if mine.0.as_str() == other.0.as_str() => Ok(()),
            (Some(mine), Some(other)) => Err(format!(
                "the files declare different append-only keys (`{}` and `{}`): one store serves them all",
                mine.0.as_str(),
                other.0.as_str()
            )),
        }
    }

    /// The position of pipeline `name` in [`Plan::pipelines`].
    pub fn pipeline_index(&self, name: &str) -> Option<usize> {
        self.pipelines.iter().position(|p| p.name == name)
    }

    /// The input's watermark lag: the largest `max_out_of_orderness` of any source, so the
    /// shared timeline never closes a window that some source still considers on time.
    pub fn watermark_lag(&self) -> u64 {
        self.sources
            .iter()
            .map(|s| s.max_out_of_orderness)
            .max()
            .unwrap_or(0)
    }
}
