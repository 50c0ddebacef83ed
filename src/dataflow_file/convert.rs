//! Raw structs into the lowering API's [`SourceSpec`]s and [`PipelineSpec`]s and the default
//! input: names of views, event kinds, window kinds, emissions, join kinds and workloads
//! (with did-you-mean), window parameters, group-by names and output-field clashes.

use std::collections::HashSet;
use std::path::Path;

use super::DefaultInput;
use super::agg;
use super::error::Fail;
use super::raw::{
    GroupBy, RawFile, RawInput, RawJoinOn, RawPipeline, RawSource, RawStep, RawStore, RawWindow,
    Str,
};
use crate::change::EventKind;
use crate::change::time::{MAX_EVENT_TS, event_time_range};
use crate::expr::suggest;
use crate::plan::bounds::check_window;
use crate::plan::lower::{
    JoinOn, OrderSpec, Origin, PipelineSpec, SourceSpec, StepSpec, Text, WindowSpec,
};
use crate::plan::{Emission, JoinKind, Ranking, View, WindowKind};
use crate::store::shard::AppendOnlyKeys;
use crate::workload::{GenConfig, Workload};

pub(super) struct Specs {
    pub sources: Vec<SourceSpec>,
    pub pipelines: Vec<PipelineSpec>,
    pub input: Option<DefaultInput>,
    pub append_only_keys: Option<AppendOnlyKeys>,
}

pub(super) fn convert(raw: &RawFile, base_dir: &Path) -> Result<Specs, Fail> {
    let sources = raw.sources.iter().map(source).collect::<Result<_, _>>()?;
    if raw.pipelines.is_empty() && !raw.has_external {
        return Err(match &raw.pipelines_key {
            Some(key) => Fail::at(key.at, "no pipelines: `pipelines` is empty"),
            None => Fail::at(
                0,
                "no pipelines: a dataflow file needs at least one [[pipelines]]",
            ),
        });
    }
    Ok(Specs {
        sources,
        pipelines: raw
            .pipelines
            .iter()
            .map(pipeline)
            .collect::<Result<_, _>>()?,
        input: raw.input.as_ref().map(|i| input(i, base_dir)).transpose()?,
        append_only_keys: append_only_keys(raw.store.as_ref())?,
    })
}

/// The `[store]` table's append-only keys, compiled.
pub(super) fn append_only_keys(raw: Option<&RawStore>) -> Result<Option<AppendOnlyKeys>, Fail> {
    let Some(pattern) = raw.and_then(|r| r.append_only_keys.as_ref()) else {
        return Ok(None);
    };
    if pattern.value.is_empty() {
        return Err(Fail::at(
            pattern.at,
            "`append_only_keys` must not be empty (`^` makes every key append-only)",
        ));
    }
    let regex = crate::store::KeyPattern::new(&pattern.value).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or(&detail).trim().to_string();
        Fail::at(pattern.at, format!("bad key regex: {last}"))
    })?;
    Ok(Some(AppendOnlyKeys(regex)))
}

fn text(s: &Str) -> Text {
    Text::at(s.value.clone(), Some(s.at))
}

/// A join step's `kind`: `inner` (the default) or `left`.
fn join_kind(kind: Option<&Str>) -> Result<JoinKind, Fail> {
    match kind {
        Some(k) => one_of(
            k,
            "join kind",
            &[("inner", JoinKind::Inner), ("left", JoinKind::LeftOuter)],
        ),
        None => Ok(JoinKind::Inner),
    }
}

/// `s` as one of `names`, or an "unknown {what}" error with a suggestion.
fn one_of<T: Copy>(s: &Str, what: &str, names: &[(&str, T)]) -> Result<T, Fail> {
    if let Some((_, v)) = names.iter().find(|(n, _)| *n == s.value) {
        return Ok(*v);
    }
    let all: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    Err(Fail::at(
        s.at,
        format!(
            "unknown {what} `{}`, expected one of: {}",
            s.value,
            all.join(", ")
        ),
    )
    .suggest(suggest(&s.value, &all)))
}

/// A top-N's `ranking`.
fn ranking_of(s: &Str) -> Result<Ranking, Fail> {
    let names = Ranking::ALL.map(|r| (r.name(), r));
    one_of(s, "ranking", &names)
}

fn source(raw: &RawSource) -> Result<SourceSpec, Fail> {
    let view = one_of(
        &raw.view,
        "view",
        &[("events", View::Events), ("table", View::Table)],
    )?;
    let mut kinds = Vec::new();
    if let Some((key, names)) = &raw.kinds {
        if view == View::Table {
            return Err(Fail::at(
                key.at,
                "a table view has no event kinds to filter (use view = \"events\")",
            ));
        }
        let all = EventKind::ALL.map(|k| (k.name(), k));
        for name in names {
            kinds.push(one_of(name, "event kind", &all)?);
        }
    }
    Ok(SourceSpec {
        name: text(&raw.name),
        view,
        kinds,
        key_regex: raw.key_regex.as_ref().map(text),
        max_out_of_orderness: raw.max_out_of_orderness,
    })
}

fn pipeline(raw: &RawPipeline) -> Result<PipelineSpec, Fail> {
    Ok(PipelineSpec {
        name: text(&raw.name),
        from: text(&raw.from),
        steps: raw.steps.iter().map(step).collect::<Result<_, _>>()?,
        final_state: raw.final_state,
        internal: raw.internal,
    })
}

fn step(raw: &RawStep) -> Result<StepSpec, Fail> {
    Ok(match raw {
        RawStep::TopN {
            limit,
            partition_by,
            order_by,
            rank,
            ranking,
        } => StepSpec::TopN {
            partition_by: partition_by.iter().map(text).collect(),
            order_by: order_by.iter().map(order_key).collect(),
            limit: limit.value as usize,
            ranking: ranking
                .as_ref()
                .map_or(Ok(Ranking::RowNumber), ranking_of)?,
            rank_field: rank.as_ref().map(text),
            origin: Origin {
                offset: Some(limit.at),
            },
        },
        RawStep::Distinct(key) => StepSpec::Distinct {
            origin: Origin {
                offset: Some(key.at),
            },
        },
        RawStep::Union(with) => StepSpec::Union {
            with: with.iter().map(text).collect(),
        },
        RawStep::Window(w) => window_rows(w)?,
        RawStep::IntervalJoin { on, between, kind } => StepSpec::IntervalJoin {
            on: join_on(on),
            lower: between.0,
            upper: between.1,
            kind: join_kind(kind.as_ref())?,
        },
        RawStep::WindowJoin { on, kind } => StepSpec::WindowJoin {
            on: join_on(on),
            kind: join_kind(kind.as_ref())?,
        },
        RawStep::Filter(s) => StepSpec::Filter(text(s)),
        RawStep::Map(fields) => {
            StepSpec::Map(fields.iter().map(|(n, e)| (text(n), text(e))).collect())
        }
        RawStep::FlatMap(name, expr) => StepSpec::FlatMap {
            name: text(name),
            expr: text(expr),
        },
        RawStep::Join {
            with,
            left_on,
            right_on,
            kind,
        } => StepSpec::Join {
            with: text(with),
            left_on: left_on.iter().map(text).collect(),
            right_on: right_on.iter().map(text).collect(),
            kind: join_kind(kind.as_ref())?,
        },
        RawStep::Aggregate {
            key,
            window,
            group_by,
            aggregates,
        } => {
            let group_by: Vec<(Text, Text)> = match group_by {
                GroupBy::Paths(paths) => paths.iter().map(path_group).collect::<Result<_, _>>()?,
                GroupBy::Named(named) => named.iter().map(|(n, e)| (text(n), text(e))).collect(),
            };
            let aggs: Vec<_> = aggregates
                .iter()
                .map(|a| {
                    let mut spec = agg::parse(&a.name, &a.call)?;
                    spec.filter = a.filter.as_ref().map(text);
                    Ok(spec)
                })
                .collect::<Result<_, Fail>>()?;
            let mut names: HashSet<&str> = HashSet::new();
            if window.is_some() {
                names.extend(["window_start", "window_end"]);
            }
            for name in group_by
                .iter()
                .map(|(n, _)| n)
                .chain(aggs.iter().map(|a| &a.name))
            {
                if !names.insert(&name.text) {
                    return Err(Fail::at(
                        name.origin.offset.unwrap_or(key.at),
                        format!("output field `{}` appears twice", name.text),
                    ));
                }
            }
            StepSpec::Aggregate {
                window: window.as_ref().map(window_spec).transpose()?,
                group_by,
                aggs,
                origin: Origin {
                    offset: Some(window.as_ref().map_or(key.at, |w| w.key.at)),
                },
            }
        }
    })
}

/// An `order_by` entry: an expression, optionally followed by `DESC` or `ASC`.
fn order_key(s: &Str) -> OrderSpec {
    let trimmed = s.value.trim_end();
    let split = trimmed
        .rfind(char::is_whitespace)
        .map(|i| (&trimmed[..i], &trimmed[i + 1..]));
    let (expr, descending) = match split {
        Some((expr, dir)) if dir.eq_ignore_ascii_case("desc") => (expr, true),
        Some((expr, dir)) if dir.eq_ignore_ascii_case("asc") => (expr, false),
        _ => (trimmed, false),
    };
    OrderSpec {
        expr: Text::at(expr.trim_end(), Some(s.at)),
        descending,
    }
}

/// A group-by path `a.b.c`: the expression, named after its last segment (`c`).
fn path_group(path: &Str) -> Result<(Text, Text), Fail> {
    let start = path.value.rfind('.').map_or(0, |i| i + 1);
    let last = &path.value[start..];
    if last.is_empty() || !last.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(Fail::at(
            path.at,
            format!(
                "`{}` is not a field name or path: name an expression with a table, group_by = {{ name = \"expression\" }}",
                path.value
            ),
        ));
    }
    Ok((Text::at(last, Some(path.at + start)), text(path)))
}

fn join_on(on: &RawJoinOn) -> JoinOn {
    JoinOn {
        with: text(&on.with),
        left_on: on.left_on.iter().map(text).collect(),
        right_on: on.right_on.iter().map(text).collect(),
        origin: Origin {
            offset: Some(on.at),
        },
    }
}

/// `window = { … }` alone: window assignment, without emission options.
fn window_rows(w: &RawWindow) -> Result<StepSpec, Fail> {
    if let Some(n) = w.allowed_lateness {
        return Err(Fail::at(
            n.at,
            "`allowed_lateness` applies to a windowed aggregate (add `aggregates`)",
        ));
    }
    if let Some(e) = &w.emit {
        return Err(Fail::at(
            e.at,
            "`emit` applies to a windowed aggregate (add `aggregates`)",
        ));
    }
    Ok(StepSpec::Window {
        kind: window_spec(w)?.kind,
        origin: Origin {
            offset: Some(w.key.at),
        },
    })
}

fn window_spec(w: &RawWindow) -> Result<WindowSpec, Fail> {
    let Some(kind) = &w.kind else {
        return Err(Fail::at(
            w.at,
            "a window needs a `kind`: tumbling, sliding or session",
        ));
    };
    let kind_name = kind.value.as_str();
    let kinds = [("tumbling", 0), ("sliding", 1), ("session", 2)];
    let needs = |param: &str| {
        let what = if param == "gap" {
            "(milliseconds between sessions)"
        } else {
            "(milliseconds)"
        };
        Fail::at(w.at, format!("a {kind_name} window needs `{param}` {what}"))
    };
    let unused = [("size", w.size), ("slide", w.slide), ("gap", w.gap)];
    let allowed: &[&str] = match one_of(kind, "window kind", &kinds)? {
        0 => &["size"],
        1 => &["size", "slide"],
        _ => &["gap"],
    };
    if let Some((param, Some(n))) = unused
        .iter()
        .find(|(p, n)| n.is_some() && !allowed.contains(p))
    {
        return Err(Fail::at(
            n.at,
            format!("a {kind_name} window has no `{param}`"),
        ));
    }
    let kind = match (kind_name, w.size, w.slide, w.gap) {
        ("tumbling", Some(size), _, _) => WindowKind::Tumbling { size: size.value },
        ("sliding", Some(size), Some(slide), _) => WindowKind::Sliding {
            size: size.value,
            slide: slide.value,
        },
        ("session", _, _, Some(gap)) => WindowKind::Session { gap: gap.value },
        ("session", ..) => return Err(needs("gap")),
        (_, None, ..) => return Err(needs("size")),
        _ => return Err(needs("slide")),
    };
    let emission = match &w.emit {
        Some(e) => one_of(
            e,
            "emit",
            &[
                ("final", Emission::Final),
                ("continuous", Emission::Continuous),
            ],
        )?,
        None => Emission::Final,
    };
    let allowed_lateness = w.allowed_lateness.map_or(0, |n| n.value);
    check_window(kind, allowed_lateness).map_err(|e| {
        let param = match e.param {
            "size" => w.size,
            "slide" => w.slide,
            "gap" => w.gap,
            _ => w.allowed_lateness,
        };
        Fail::at(param.map_or(w.at, |n| n.at), e.message)
    })?;
    Ok(WindowSpec {
        kind,
        emission,
        allowed_lateness,
    })
}

/// A generator's `start_ts`, within the range of event time (see `change::time`).
fn event_time(n: Option<super::raw::Num>) -> Result<Option<u64>, Fail> {
    match n {
        Some(n) if n.value > MAX_EVENT_TS => Err(Fail::at(
            n.at,
            format!(
                "`start_ts` {} is out of range: event times are {}",
                n.value,
                event_time_range()
            ),
        )),
        n => Ok(n.map(|n| n.value)),
    }
}

pub(super) fn input(raw: &RawInput, base_dir: &Path) -> Result<DefaultInput, Fail> {
    if let Some(file) = &raw.file {
        if file.value.is_empty() {
            return Err(Fail::at(file.at, "`file` must not be empty"));
        }
        return Ok(DefaultInput::File(base_dir.join(&file.value)));
    }
    let Some(name) = &raw.generate else {
        return Err(Fail::at(raw.at, "[input] needs `file` or `generate`"));
    };
    if !Workload::names().contains(&name.value.as_str()) && name.value != "users_orders" {
        let names = Workload::names();
        return Err(Fail::at(
            name.at,
            format!(
                "unknown workload `{}`, expected one of: {}",
                name.value,
                names.join(", ")
            ),
        )
        .suggest(suggest(&name.value, names)));
    }
    let workload = Workload::parse(
        &name.value,
        raw.keys.map(|k| k.value),
        raw.skew.map(|s| s.0),
    )
    .map_err(|message| {
        let at = match message.as_str() {
            m if m.starts_with("`keys`") => raw.keys.map(|k| k.at),
            m if m.starts_with("`skew`") => raw.skew.map(|s| s.1),
            _ => None,
        };
        Fail::at(at.unwrap_or(name.at), message)
    })?;
    let defaults = GenConfig::default();
    let get = |n: Option<super::raw::Num>, default: u64| n.map_or(default, |n| n.value);
    Ok(DefaultInput::Generate {
        workload,
        config: GenConfig {
            events: get(raw.events, defaults.events),
            seed: get(raw.seed, defaults.seed),
            disorder_ms: get(raw.disorder_ms, defaults.disorder_ms),
            start_ts: event_time(raw.start_ts)?.unwrap_or(defaults.start_ts),
            rate_per_sec: get(raw.rate_per_sec, defaults.rate_per_sec),
        },
    })
}
