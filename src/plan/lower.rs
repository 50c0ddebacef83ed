//! Lowering: front-end specs (the Rust builder, dataflow files) into a validated [`Plan`].
//!
//! Both front ends describe pipelines as the same [`PipelineSpec`]s of steps whose
//! expressions are still text; lowering resolves names, compiles every expression against the
//! schema of its step's input, derives output schemas, and reports the first problem as a
//! [`LowerError`] that points into the text (an [`Origin`]), so a file front end can turn it
//! into `file:line:column`.

use std::collections::HashSet;

use crate::change::EventKind;
use crate::expr::{Expr, suggest};
use crate::plan::bounds::check_window;
use crate::plan::{
    AggDef, AggFilter, AggFunc, Emission, JoinKind, Node, OrderKey, PipelineDef, Plan, Ranking,
    SourceDef, View, WindowDef, WindowKind,
};
use crate::schema::{Field, Schema, Type};

/// Where a piece of spec text came from: a byte offset in the front end's file, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Byte offset of the text's first character in its file.
    pub offset: Option<usize>,
}

/// Text with its origin (an expression, a name, a regex).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    pub origin: Origin,
}

impl Text {
    pub fn at(text: impl Into<String>, offset: Option<usize>) -> Text {
        Text {
            text: text.into(),
            origin: Origin { offset },
        }
    }
}

impl<S: Into<String>> From<S> for Text {
    fn from(text: S) -> Text {
        Text::at(text, None)
    }
}

/// A lowering error: the message, where (file offset, when known) and a suggestion.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct LowerError {
    pub message: String,
    pub offset: Option<usize>,
    pub suggestion: Option<String>,
}

impl LowerError {
    pub(super) fn at(origin: Origin, message: impl Into<String>) -> LowerError {
        LowerError {
            message: message.into(),
            offset: origin.offset,
            suggestion: None,
        }
    }

    fn suggest(mut self, suggestion: Option<String>) -> LowerError {
        self.suggestion = suggestion;
        self
    }
}

#[derive(Clone, Debug)]
pub struct SourceSpec {
    pub name: Text,
    pub view: View,
    pub kinds: Vec<EventKind>,
    pub key_regex: Option<Text>,
    pub max_out_of_orderness: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub emission: Emission,
    pub allowed_lateness: u64,
}

#[derive(Clone, Debug)]
pub struct AggSpec {
    pub name: Text,
    pub func: AggFunc,
    pub arg: Option<Text>,
    /// `FILTER (WHERE condition)`: only rows where it is true take part.
    pub filter: Option<Text>,
}

/// One key of a top-N's `ORDER BY`: the expression and whether it sorts descending.
#[derive(Clone, Debug)]
pub struct OrderSpec {
    pub expr: Text,
    pub descending: bool,
}

#[derive(Clone, Debug)]
pub enum StepSpec {
    Filter(Text),
    Map(Vec<(Text, Text)>),
    FlatMap {
        name: Text,
        expr: Text,
    },
    Aggregate {
        window: Option<WindowSpec>,
        group_by: Vec<(Text, Text)>,
        aggs: Vec<AggSpec>,
        origin: Origin,
    },
    Join {
        with: Text,
        left_on: Vec<Text>,
        right_on: Vec<Text>,
        kind: JoinKind,
    },
    /// The first `limit` rows per partition (see [`Node::TopN`]).
    TopN {
        partition_by: Vec<Text>,
        order_by: Vec<OrderSpec>,
        limit: usize,
        ranking: Ranking,
        rank_field: Option<Text>,
        origin: Origin,
    },
    /// Each distinct row once: an aggregate grouping by every field, with no aggregates.
    Distinct {
        origin: Origin,
    },
    /// The rows of this pipeline and of each of `with` (sources or earlier pipelines).
    Union {
        with: Vec<Text>,
    },
    /// Each row once per fixed window holding its `ts`, with `window_start, window_end`.
    Window {
        kind: WindowKind,
        origin: Origin,
    },
    /// An interval join with `with` (both event streams): `left.ts - with.ts` within
    /// `[lower, upper]` ms, inclusive.
    IntervalJoin {
        on: JoinOn,
        lower: i64,
        upper: i64,
        kind: JoinKind,
    },
    /// A window join with `with`: equal `window_start`, `window_end` and keys.
    WindowJoin {
        on: JoinOn,
        kind: JoinKind,
    },
}

/// The other input of an interval or window join and the equi-keys of both sides.
#[derive(Clone, Debug)]
pub struct JoinOn {
    pub with: Text,
    pub left_on: Vec<Text>,
    pub right_on: Vec<Text>,
    /// Where the step is written (for errors about the step as a whole).
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct PipelineSpec {
    pub name: Text,
    /// A source or an earlier pipeline.
    pub from: Text,
    pub steps: Vec<StepSpec>,
    pub final_state: bool,
    /// Feeds later pipelines only: its rows and final state are not written.
    pub internal: bool,
}

/// Lowers sources and pipelines (in order; a pipeline may use earlier ones) into a plan.
pub fn lower(sources: &[SourceSpec], pipelines: &[PipelineSpec]) -> Result<Plan, LowerError> {
    let mut plan = Plan::default();
    let mut names = HashSet::new();
    for source in sources {
        check_new_name(&mut names, &source.name)?;
        plan.sources.push(lower_source(source)?);
    }
    for pipeline in pipelines {
        check_new_name(&mut names, &pipeline.name)?;
        let def = lower_pipeline(&plan, pipeline)?;
        plan.pipelines.push(def);
    }
    Ok(plan)
}

/// Checks a name that becomes part of a file name (pipelines, alerts, sync sinks, route
/// handlers): ASCII letters, digits, `_` and `-`, so it can never name a path outside the
/// output directory (`sinks::path` guards the path itself as well).
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match valid {
        true => Ok(()),
        false => Err(format!(
            "`{name}` is not a valid name (letters, digits, `_`, `-`)"
        )),
    }
}

fn check_new_name(names: &mut HashSet<String>, name: &Text) -> Result<(), LowerError> {
    check_name(&name.text).map_err(|message| LowerError::at(name.origin, message))?;
    if !names.insert(name.text.clone()) {
        return Err(LowerError::at(
            name.origin,
            format!("`{}` is defined twice", name.text),
        ));
    }
    Ok(())
}

fn lower_source(spec: &SourceSpec) -> Result<SourceDef, LowerError> {
    let key_regex = match &spec.key_regex {
        Some(text) => Some(crate::store::KeyPattern::new(&text.text).map_err(|e| {
            LowerError::at(
                text.origin,
                format!("bad key regex: {}", first_line(&e.to_string())),
            )
        })?),
        None => None,
    };
    if spec.view == View::Table && !spec.kinds.is_empty() {
        return Err(LowerError::at(
            spec.name.origin,
            "a table view has no event kinds to filter (use the events view)",
        ));
    }
    Ok(SourceDef {
        name: spec.name.text.clone(),
        view: spec.view,
        kinds: spec.kinds.clone(),
        key_regex,
        max_out_of_orderness: spec.max_out_of_orderness,
    })
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

pub(super) fn input_node(plan: &Plan, from: &Text) -> Result<Node, LowerError> {
    if let Some(source) = plan.source(&from.text) {
        return Ok(Node::Source {
            source: source.name.clone(),
            view: source.view,
            lateness: None,
            schema: source.view.schema(),
        });
    }
    if let Some(pipeline) = plan.pipeline(&from.text) {
        return Ok(Node::Pipeline {
            name: pipeline.name.clone(),
            schema: pipeline.schema().clone(),
        });
    }
    let known: Vec<&str> = plan
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .chain(plan.pipelines.iter().map(|p| p.name.as_str()))
        .collect();
    Err(LowerError::at(
        from.origin,
        format!("no source or earlier pipeline is called `{}`", from.text),
    )
    .suggest(suggest(&from.text, &known)))
}

pub(super) fn compile(text: &Text, schema: &Schema) -> Result<Expr, LowerError> {
    Expr::compile(&text.text, schema).map_err(|e| LowerError {
        message: e.message,
        offset: text.origin.offset.map(|o| o + e.offset),
        suggestion: e.suggestion,
    })
}

fn lower_pipeline(plan: &Plan, spec: &PipelineSpec) -> Result<PipelineDef, LowerError> {
    let mut node = input_node(plan, &spec.from)?;
    for step in &spec.steps {
        node = lower_step(plan, node, step, &spec.from)?;
    }
    Ok(PipelineDef {
        name: spec.name.text.clone(),
        node,
        final_state: spec.final_state,
        internal: spec.internal,
    })
}

fn lower_step(plan: &Plan, input: Node, step: &StepSpec, from: &Text) -> Result<Node, LowerError> {
    let schema = input.schema().clone();
    Ok(match step {
        StepSpec::Filter(text) => {
            let predicate = compile(text, &schema)?;
            if !predicate.ty().fits(Type::Bool) {
                return Err(LowerError::at(
                    text.origin,
                    format!("a filter needs a boolean, got {}", predicate.ty().name()),
                ));
            }
            Node::Filter {
                input: Box::new(input),
                predicate,
            }
        }
        StepSpec::Map(fields) => {
            let mut out = Vec::new();
            let mut names = HashSet::new();
            for (name, text) in fields {
                if !names.insert(name.text.clone()) {
                    return Err(LowerError::at(
                        name.origin,
                        format!("field `{}` is set twice", name.text),
                    ));
                }
                out.push((name.text.clone(), compile(text, &schema)?));
            }
            let schema = Schema {
                fields: out
                    .iter()
                    .map(|(name, e)| Field {
                        name: name.clone(),
                        ty: e.ty(),
                    })
                    .collect(),
            };
            Node::Map {
                input: Box::new(input),
                fields: out,
                schema,
            }
        }
        StepSpec::FlatMap { name, expr } => {
            let expr = compile(expr, &schema)?;
            if schema.index_of(&name.text).is_some() {
                return Err(LowerError::at(
                    name.origin,
                    format!("field `{}` already exists", name.text),
                ));
            }
            let mut out = schema.clone();
            out.fields.push(Field {
                name: name.text.clone(),
                ty: Type::Json,
            });
            Node::FlatMap {
                input: Box::new(input),
                name: name.text.clone(),
                expr,
                schema: out,
            }
        }
        StepSpec::Aggregate {
            window,
            group_by,
            aggs,
            origin,
        } => lower_aggregate(input, window, group_by, aggs, *origin)?,
        StepSpec::Join {
            with,
            left_on,
            right_on,
            kind,
        } => lower_join(plan, input, from, with, left_on, right_on, *kind)?,
        StepSpec::TopN {
            partition_by,
            order_by,
            limit,
            ranking,
            rank_field,
            origin,
        } => {
            let rank = (*limit, *ranking, rank_field);
            lower_top_n(plan, input, partition_by, order_by, rank, *origin)?
        }
        StepSpec::Distinct { origin } => lower_distinct(input, *origin)?,
        StepSpec::Union { with } => lower_union(plan, input, from, with)?,
        StepSpec::Window { kind, origin } => {
            super::lower_joins::lower_window_rows(input, *kind, *origin)?
        }
        StepSpec::IntervalJoin {
            on,
            lower,
            upper,
            kind,
        } => {
            super::lower_joins::lower_interval_join(plan, input, from, on, (*lower, *upper), *kind)?
        }
        StepSpec::WindowJoin { on, kind } => {
            super::lower_joins::lower_window_join(plan, input, from, on, *kind)?
        }
    })
}

pub(super) fn lower_window(
    spec: &WindowSpec,
    schema: &Schema,
    origin: Origin,
) -> Result<WindowDef, LowerError> {
    let positive = |value: u64, what: &str| {
        if value == 0 {
            Err(LowerError::at(
                origin,
                format!("window {what} must be a positive number of milliseconds"),
            ))
        } else {
            Ok(())
        }
    };
    match spec.kind {
        WindowKind::Tumbling { size } => positive(size, "size")?,
        WindowKind::Sliding { size, slide } => {
            positive(size, "size")?;
            positive(slide, "slide")?;
        }
        WindowKind::Session { gap } => positive(gap, "gap")?,
    }
    check_window(spec.kind, spec.allowed_lateness)
        .map_err(|e| LowerError::at(origin, e.message))?;
    let ts_field = schema.index_of("ts").ok_or_else(|| {
        LowerError::at(
            origin,
            "a window needs the event time field `ts` in its input (keep it in the map)",
        )
    })?;
    Ok(WindowDef {
        kind: spec.kind,
        emission: spec.emission,
        allowed_lateness: spec.allowed_lateness,
        ts_field,
    })
}

fn lower_aggregate(
    input: Node,
    window: &Option<WindowSpec>,
    group_by: &[(Text, Text)],
    aggs: &[AggSpec],
    origin: Origin,
) -> Result<Node, LowerError> {
    let schema = input.schema().clone();
    let window = match window {
        Some(spec) => Some(lower_window(spec, &schema, origin)?),
        None => None,
    };
    let mut fields = Vec::new();
    if window.is_some() {
        fields.push(Field {
            name: "window_start".into(),
            ty: Type::Int,
        });
        fields.push(Field {
            name: "window_end".into(),
            ty: Type::Int,
        });
    }
    let mut groups = Vec::new();
    for (name, text) in group_by {
        let expr = compile(text, &schema)?;
        fields.push(Field {
            name: name.text.clone(),
            ty: expr.ty(),
        });
        groups.push((name.text.clone(), expr));
    }
    if aggs.is_empty() && groups.is_empty() {
        return Err(LowerError::at(
            origin,
            "an aggregate step needs a group key or at least one aggregate",
        ));
    }
    let mut defs = Vec::new();
    for agg in aggs {
        let arg = match &agg.arg {
            Some(text) => Some(compile(text, &schema)?),
            None if agg.func == AggFunc::Count => None,
            None => {
                return Err(LowerError::at(
                    agg.name.origin,
                    format!("{} needs an argument", agg.func.name()),
                ));
            }
        };
        let (arg, filter) = match &agg.filter {
            Some(text) => filtered_arg(agg, arg, text, &schema)?,
            None => (arg, None),
        };
        if matches!(agg.func, AggFunc::Sum | AggFunc::Avg)
            && let Some(expr) = &arg
            && !expr.ty().is_numeric()
        {
            return Err(LowerError::at(
                agg.arg.as_ref().map_or(agg.name.origin, |t| t.origin),
                format!(
                    "{} needs a number, got {}",
                    agg.func.name(),
                    expr.ty().name()
                ),
            ));
        }
        fields.push(Field {
            name: agg.name.text.clone(),
            ty: agg.func.output_type(arg.as_ref().map(Expr::ty)),
        });
        defs.push(AggDef {
            name: agg.name.text.clone(),
            func: agg.func,
            arg,
            filter,
        });
    }
    let mut seen = HashSet::new();
    for field in &fields {
        if !seen.insert(field.name.clone()) {
            return Err(LowerError::at(
                origin,
                format!("output field `{}` appears twice", field.name),
            ));
        }
    }
    let mut input = input;
    if let Some(w) = &window {
        mark_lateness(&mut input, w.allowed_lateness);
    }
    Ok(Node::Aggregate {
        input: Box::new(input),
        window,
        group_by: groups,
        aggs: defs,
        schema: Schema { fields },
    })
}

/// Windowed pipelines send late rows of their sources to the late output.
pub(super) fn mark_lateness(node: &mut Node, allowed_lateness: u64) {
    match node {
        Node::Source { lateness, .. } => *lateness = Some(allowed_lateness),
        Node::Filter { input, .. } | Node::Map { input, .. } | Node::FlatMap { input, .. } => {
            mark_lateness(input, allowed_lateness)
        }
        Node::Join { left, .. } => mark_lateness(left, allowed_lateness),
        Node::Union { inputs, .. } => inputs
            .iter_mut()
            .for_each(|i| mark_lateness(i, allowed_lateness)),
        Node::Window { input, .. } => mark_lateness(input, allowed_lateness),
        Node::Aggregate { .. }
        | Node::Pipeline { .. }
        | Node::TopN { .. }
        | Node::IntervalJoin { .. }
        | Node::WindowJoin { .. } => {}
    }
}

/// An aggregate's argument under `FILTER (WHERE condition)`: `CASE WHEN condition THEN arg
/// END` (`THEN 1` for `count(*)`), so rows the filter drops give null, which every aggregate
/// but first and last skips. First and last keep their argument: a row's null is a value
/// they show, so the condition is evaluated apart (`render::aggregate_spec`).
fn filtered_arg(
    agg: &AggSpec,
    arg: Option<Expr>,
    text: &Text,
    schema: &Schema,
) -> Result<(Option<Expr>, Option<AggFilter>), LowerError> {
    let condition = compile(text, schema)?;
    if !condition.ty().fits(Type::Bool) {
        return Err(LowerError::at(
            text.origin,
            format!(
                "FILTER needs a boolean condition, got {}",
                condition.ty().name()
            ),
        ));
    }
    if matches!(agg.func, AggFunc::First | AggFunc::Last) {
        let filter = AggFilter {
            condition,
            arg: arg.clone(),
        };
        return Ok((arg, Some(filter)));
    }
    let then = arg.as_ref().map_or("1", |a| a.text());
    let combined = format!("CASE WHEN ({}) THEN ({then}) END", condition.text());
    let conditional = Expr::compile(&combined, schema)
        .map_err(|e| LowerError::at(text.origin, format!("FILTER: {}", e.message)))?;
    Ok((Some(conditional), Some(AggFilter { condition, arg })))
}

/// `rank`: the limit, the ranking and the rank field.
fn lower_top_n(
    plan: &Plan,
    input: Node,
    partition_by: &[Text],
    order_by: &[OrderSpec],
    (limit, ranking, rank_field): (usize, Ranking, &Option<Text>),
    origin: Origin,
) -> Result<Node, LowerError> {
    let schema = input.schema().clone();
    if limit == 0 {
        return Err(LowerError::at(
            origin,
            "a top-N needs a limit of at least 1",
        ));
    }
    if order_by.is_empty() {
        return Err(LowerError::at(
            origin,
            "a top-N needs at least one ORDER BY key",
        ));
    }
    let partition_by = partition_by
        .iter()
        .map(|t| compile(t, &schema))
        .collect::<Result<Vec<_>, _>>()?;
    let order_by = order_by
        .iter()
        .map(|o| {
            Ok(OrderKey {
                expr: compile(&o.expr, &schema)?,
                descending: o.descending,
            })
        })
        .collect::<Result<Vec<_>, LowerError>>()?;
    let mut out = schema.clone();
    if let Some(rank) = rank_field {
        if schema.index_of(&rank.text).is_some() {
            return Err(LowerError::at(
                rank.origin,
                format!("field `{}` already exists", rank.text),
            ));
        }
        out.fields.push(Field {
            name: rank.text.clone(),
            ty: Type::Int,
        });
    }
    let window_end = super::windowed::top_n_window_end(plan, &input, &partition_by);
    Ok(Node::TopN {
        input: Box::new(input),
        window_end,
        partition_by,
        order_by,
        limit,
        ranking,
        rank_field: rank_field.as_ref().map(|r| r.text.clone()),
        schema: out,
    })
}

/// DISTINCT: an aggregate grouping by every field of its input, with no aggregates.
fn lower_distinct(input: Node, origin: Origin) -> Result<Node, LowerError> {
    let schema = input.schema().clone();
    let group_by = schema
        .fields
        .iter()
        .map(|f| {
            let quoted = format!("\"{}\"", f.name.replace('"', "\"\""));
            let expr =
                Expr::compile(&quoted, &schema).map_err(|e| LowerError::at(origin, e.message))?;
            Ok((f.name.clone(), expr))
        })
        .collect::<Result<Vec<_>, LowerError>>()?;
    Ok(Node::Aggregate {
        input: Box::new(input),
        window: None,
        group_by,
        aggs: Vec::new(),
        schema,
    })
}

/// UNION ALL: every input has the first's number of fields, each of a type that fits the
/// first's (the output takes the first's names; a field whose types differ is JSON).
fn lower_union(plan: &Plan, first: Node, from: &Text, with: &[Text]) -> Result<Node, LowerError> {
    if with.is_empty() {
        return Err(LowerError::at(
            from.origin,
            "a union needs at least one other input",
        ));
    }
    let mut schema = first.schema().clone();
    let mut inputs = vec![first];
    for name in with {
        let node = input_node(plan, name)?;
        let other = node.schema();
        if other.len() != schema.len() {
            return Err(LowerError::at(
                name.origin,
                format!(
                    "UNION ALL inputs need the same columns: `{}` has {} ({}), the first input {} ({})",
                    name.text,
                    other.len(),
                    other.names().join(", "),
                    schema.len(),
                    schema.names().join(", ")
                ),
            ));
        }
        for (mine, theirs) in schema.fields.iter_mut().zip(&other.fields) {
            if !(theirs.ty.fits(mine.ty) || mine.ty.fits(theirs.ty)) {
                return Err(LowerError::at(
                    name.origin,
                    format!(
                        "UNION ALL inputs need columns of the same types: `{}` of `{}` is {}, `{}` of the first input is {}",
                        theirs.name,
                        name.text,
                        theirs.ty.name(),
                        mine.name,
                        mine.ty.name()
                    ),
                ));
            }
            if theirs.ty != mine.ty {
                mine.ty = Type::Json;
            }
        }
        inputs.push(node);
    }
    Ok(Node::Union { inputs, schema })
}

fn lower_join(
    plan: &Plan,
    left: Node,
    from: &Text,
    with: &Text,
    left_on: &[Text],
    right_on: &[Text],
    kind: JoinKind,
) -> Result<Node, LowerError> {
    let right = input_node(plan, with)?;
    if right.is_append_only() {
        return Err(LowerError::at(
            with.origin,
            format!(
                "`{}` is append-only: the right side of a join must be a table or an aggregate",
                with.text
            ),
        ));
    }
    if left_on.is_empty() || left_on.len() != right_on.len() {
        return Err(LowerError::at(
            with.origin,
            "a join needs as many `left_on` as `right_on` expressions, at least one",
        ));
    }
    let left_keys = left_on
        .iter()
        .map(|t| compile(t, left.schema()))
        .collect::<Result<Vec<_>, _>>()?;
    let right_keys = right_on
        .iter()
        .map(|t| compile(t, right.schema()))
        .collect::<Result<Vec<_>, _>>()?;
    let left_name = from.text.clone();
    let right_name = with.text.clone();
    // NB: a join of a join's rows (a second join step) keeps their qualified names.
    let joined = joined_names(&left);
    let names = joined.clone().unwrap_or_else(|| vec![left_name.clone()]);
    if names.contains(&right_name) {
        return Err(LowerError::at(
            with.origin,
            "a join of an input with itself is not supported",
        ));
    }
    let mut fields = match joined {
        Some(_) => left.schema().fields.clone(),
        None => qualified(&left_name, left.schema()),
    };
    fields.extend(qualified(&right_name, right.schema()));
    let schema = Schema { fields };
    Ok(Node::Join {
        left: Box::new(left),
        right: Box::new(right),
        left_name,
        right_name,
        left_keys,
        right_keys,
        kind,
        schema,
    })
}

/// The inputs whose names qualify the fields of `node`'s rows, when they are a join's rows
/// (whose fields are already named `input.field`); `None` for any other rows.
fn joined_names(node: &Node) -> Option<Vec<String>> {
    let (left, left_name, right_name) = match node {
        Node::Filter { input, .. } => return joined_names(input),
        Node::Join {
            left,
            left_name,
            right_name,
            ..
        } => (left.as_ref(), left_name, right_name),
        Node::IntervalJoin { join, .. } | Node::WindowJoin { join, .. } => {
            (&join.left, &join.left_name, &join.right_name)
        }
        _ => return None,
    };
    let mut names = joined_names(left).unwrap_or_else(|| vec![left_name.clone()]);
    names.push(right_name.clone());
    Some(names)
}

pub(super) fn qualified(side: &str, schema: &Schema) -> Vec<Field> {
    schema
        .fields
        .iter()
        .map(|f| Field {
            name: format!("{side}.{}", f.name),
            ty: f.ty,
        })
        .collect()
}
