//! The TOML document (parsed by `toml::de::DeTable`, every key and value with its byte span)
//! into raw structs: keys checked against each table's known keys, values checked for their
//! TOML type, tables in file order. Names and semantics are checked later, in `convert`.

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::Fail;
use super::literal::{self, Escaped};
use crate::expr::suggest;

type Value<'i> = Spanned<DeValue<'i>>;

/// A string (a key or a string value) and the file offset of its first character.
#[derive(Clone, Debug)]
pub(super) struct Str {
    pub value: String,
    pub at: usize,
}

/// An integer value; `at` is the offset of its key.
#[derive(Clone, Copy, Debug)]
pub(super) struct Num {
    pub value: u64,
    pub at: usize,
}

pub(super) struct RawFile {
    /// The `pipelines` key, if present.
    pub pipelines_key: Option<Str>,
    pub input: Option<RawInput>,
    pub store: Option<RawStore>,
    pub sources: Vec<RawSource>,
    pub pipelines: Vec<RawPipeline>,
    /// Whether the file has sync sinks, alerts or routes (then it needs no pipelines).
    pub has_external: bool,
}

pub(super) struct RawInput {
    pub at: usize,
    pub file: Option<Str>,
    pub generate: Option<Str>,
    pub events: Option<Num>,
    pub seed: Option<Num>,
    pub disorder_ms: Option<Num>,
    pub start_ts: Option<Num>,
    pub rate_per_sec: Option<Num>,
    pub keys: Option<Num>,
    /// The skew and the offset of its key.
    pub skew: Option<(f64, usize)>,
}

/// The `[store]` table (or an SQL file's `SET store.<key>`).
pub(super) struct RawStore {
    pub append_only_keys: Option<Str>,
}

pub(super) struct RawSource {
    pub name: Str,
    pub view: Str,
    /// The `kinds` key and its values.
    pub kinds: Option<(Str, Vec<Str>)>,
    pub key_regex: Option<Str>,
    pub max_out_of_orderness: u64,
}

pub(super) struct RawPipeline {
    pub name: Str,
    pub from: Str,
    pub final_state: bool,
    pub internal: bool,
    pub steps: Vec<RawStep>,
}

pub(super) enum GroupBy {
    Paths(Vec<Str>),
    Named(Vec<(Str, Str)>),
}

/// An aggregate entry: `name = "func(arg)"` or `name = { aggregate = "func(arg)", filter =
/// "condition" }`.
pub(super) struct RawAgg {
    pub name: Str,
    pub call: Str,
    pub filter: Option<Str>,
}

pub(super) struct RawWindow {
    /// The `window` key, and the offset of its table.
    pub key: Str,
    pub at: usize,
    pub kind: Option<Str>,
    pub size: Option<Num>,
    pub slide: Option<Num>,
    pub gap: Option<Num>,
    pub emit: Option<Str>,
    pub allowed_lateness: Option<Num>,
}

pub(super) enum RawStep {
    Filter(Str),
    Map(Vec<(Str, Str)>),
    FlatMap(Str, Str),
    Aggregate {
        /// The `aggregates` key.
        key: Str,
        window: Option<RawWindow>,
        group_by: GroupBy,
        aggregates: Vec<RawAgg>,
    },
    TopN {
        /// The limit, at the `top_n` key.
        limit: Num,
        partition_by: Vec<Str>,
        order_by: Vec<Str>,
        rank: Option<Str>,
        /// `row_number` (the default), `rank` or `dense_rank`.
        ranking: Option<Str>,
    },
    /// `distinct = true`, at its key.
    Distinct(Str),
    Union(Vec<Str>),
    Join {
        with: Str,
        left_on: Vec<Str>,
        right_on: Vec<Str>,
        kind: Option<Str>,
    },
    /// `window = { … }` alone: each row once per window, with its bounds.
    Window(RawWindow),
    /// `interval_join = "other"` with `between = [lower, upper]` (ms).
    IntervalJoin {
        on: RawJoinOn,
        between: (i64, i64),
        kind: Option<Str>,
    },
    /// `window_join = "other"`.
    WindowJoin {
        on: RawJoinOn,
        kind: Option<Str>,
    },
}

/// The other input and the keys of an interval or window join; `at` is the step's key.
pub(super) struct RawJoinOn {
    pub with: Str,
    pub left_on: Vec<Str>,
    pub right_on: Vec<Str>,
    pub at: usize,
}

// `sync`, `alerts`, `routes` and `routing` are read by `outputs.rs`.
const TOP_KEYS: &[&str] = &[
    "input",
    "store",
    "sources",
    "pipelines",
    "sync",
    "alerts",
    "routes",
    "routing",
];
pub(super) const INPUT_KEYS: &[&str] = &[
    "file",
    "generate",
    "events",
    "seed",
    "disorder_ms",
    "start_ts",
    "rate_per_sec",
    "keys",
    "skew",
];
pub(super) const STORE_KEYS: &[&str] = &["append_only_keys"];
const SOURCE_KEYS: &[&str] = &["view", "kinds", "key_regex", "max_out_of_orderness"];
const PIPELINE_KEYS: &[&str] = &["name", "from", "final_state", "internal", "steps"];
const STEP_KEYS: &[&str] = &[
    "filter",
    "map",
    "flat_map",
    "window",
    "group_by",
    "aggregates",
    "join",
    "left_on",
    "right_on",
    "kind",
    "top_n",
    "partition_by",
    "order_by",
    "rank",
    "ranking",
    "distinct",
    "union",
    "interval_join",
    "window_join",
    "between",
];
const STEP_KINDS: &[&str] = &[
    "filter",
    "map",
    "flat_map",
    "aggregates",
    "join",
    "top_n",
    "distinct",
    "union",
    "interval_join",
    "window_join",
];
/// The step kinds, as messages list them.
const KIND_LIST: &str = "`filter`, `map`, `flat_map`, `aggregates`, `join`, `interval_join`, `window_join`, `top_n`, `distinct`, `union` (or `window` alone)";
const AGG_KEYS: &[&str] = &["aggregate", "filter"];
const WINDOW_KEYS: &[&str] = &["kind", "size", "slide", "gap", "emit", "allowed_lateness"];

/// A table's entries in file order.
struct Table<'v, 'i> {
    at: usize,
    entries: Vec<(Str, &'v Value<'i>)>,
}

impl<'v, 'i> Table<'v, 'i> {
    fn get(&self, name: &str) -> Option<&(Str, &'v Value<'i>)> {
        self.entries.iter().find(|(k, _)| k.value == name)
    }
}

/// Reads a parsed document, recording the strings with escapes it meets.
pub(super) struct Reader<'a> {
    text: &'a str,
    pub escaped: Vec<Escaped>,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            escaped: Vec::new(),
        }
    }

    pub fn file(&mut self, doc: &DeTable<'_>) -> Result<RawFile, Fail> {
        let top = self.entries(doc, 0, "the file", TOP_KEYS)?;
        let input = match top.get("input") {
            Some((_, v)) => Some(self.input(v)?),
            None => None,
        };
        let store = match top.get("store") {
            Some((_, v)) => Some(self.store(v)?),
            None => None,
        };
        let mut sources = Vec::new();
        if let Some((key, v)) = top.get("sources") {
            let DeValue::Table(t) = v.get_ref() else {
                return Err(Fail::at(
                    key.at,
                    "`sources` must be a table of named sources ([sources.NAME])",
                ));
            };
            for (name, v) in self.entries(t, v.span().start, "`sources`", &[])?.entries {
                sources.push(self.source(name, v)?);
            }
        }
        let mut pipelines = Vec::new();
        if let Some((key, v)) = top.get("pipelines") {
            let items = self.tables(
                key,
                v,
                "`pipelines` must be an array of tables ([[pipelines]])",
            )?;
            for item in items {
                pipelines.push(self.pipeline(item)?);
            }
        }
        Ok(RawFile {
            pipelines_key: top.get("pipelines").map(|(k, _)| k.clone()),
            input,
            store,
            sources,
            pipelines,
            has_external: ["sync", "alerts", "routes", "routing"]
                .iter()
                .any(|k| top.get(k).is_some()),
        })
    }

    fn input(&mut self, v: &Value<'_>) -> Result<RawInput, Fail> {
        let t = self.table(
            v,
            "[input]",
            "`input` must be a table ([input])",
            INPUT_KEYS,
        )?;
        let file = self.opt_string(&t, "file")?;
        let generator_key = t.entries.iter().find(|(k, _)| k.value != "file");
        if let (Some(_), Some((key, _))) = (&file, generator_key) {
            let message = match key.value.as_str() {
                "generate" => {
                    "`file` and `generate` are exclusive: the input is one or the other".to_string()
                }
                k => format!("`{k}` applies only with `generate`"),
            };
            return Err(Fail::at(key.at, message));
        }
        let skew = match t.get("skew") {
            Some((key, v)) => Some((number(key, v)?, key.at)),
            None => None,
        };
        Ok(RawInput {
            at: t.at,
            file,
            generate: self.opt_string(&t, "generate")?,
            events: opt_uint(&t, "events", false, "")?,
            seed: opt_uint(&t, "seed", false, "")?,
            disorder_ms: opt_uint(&t, "disorder_ms", false, " (milliseconds)")?,
            start_ts: opt_uint(&t, "start_ts", false, " (milliseconds since the epoch)")?,
            rate_per_sec: opt_uint(&t, "rate_per_sec", true, " (events per second)")?,
            keys: opt_uint(&t, "keys", true, "")?,
            skew,
        })
    }

    fn store(&mut self, v: &Value<'_>) -> Result<RawStore, Fail> {
        let t = self.table(
            v,
            "[store]",
            "`store` must be a table ([store])",
            STORE_KEYS,
        )?;
        Ok(RawStore {
            append_only_keys: self.opt_string(&t, "append_only_keys")?,
        })
    }

    fn source(&mut self, name: Str, v: &Value<'_>) -> Result<RawSource, Fail> {
        let what = format!("source `{}`", name.value);
        let message = format!(
            "source `{}` must be a table ([sources.{}])",
            name.value, name.value
        );
        let t = self.table(v, &what, &message, SOURCE_KEYS)?;
        let view = self.opt_string(&t, "view")?.ok_or_else(|| {
            Fail::at(
                t.at,
                format!(
                    "source `{}` needs a `view` (\"events\" or \"table\")",
                    name.value
                ),
            )
        })?;
        let kinds = match t.get("kinds") {
            Some((key, v)) => Some((key.clone(), self.strings(key, v)?)),
            None => None,
        };
        Ok(RawSource {
            view,
            kinds,
            key_regex: self.opt_string(&t, "key_regex")?,
            max_out_of_orderness: opt_uint(&t, "max_out_of_orderness", false, " (milliseconds)")?
                .map_or(0, |n| n.value),
            name,
        })
    }

    fn pipeline(&mut self, v: &Value<'_>) -> Result<RawPipeline, Fail> {
        let t = self.table(
            v,
            "a pipeline",
            "each pipeline must be a table",
            PIPELINE_KEYS,
        )?;
        let name = self
            .opt_string(&t, "name")?
            .ok_or_else(|| Fail::at(t.at, "a pipeline needs a `name`"))?;
        let from = self.opt_string(&t, "from")?.ok_or_else(|| {
            Fail::at(
                t.at,
                format!(
                    "pipeline `{}` needs `from` (a source or an earlier pipeline)",
                    name.value
                ),
            )
        })?;
        let final_state = self.flag(&t, "final_state")?;
        let internal = self.flag(&t, "internal")?;
        let mut steps = Vec::new();
        if let Some((key, v)) = t.get("steps") {
            for step in self.tables(
                key,
                v,
                "`steps` must be an array of tables ([[pipelines.steps]])",
            )? {
                steps.push(self.step(step)?);
            }
        }
        Ok(RawPipeline {
            name,
            from,
            final_state,
            internal,
            steps,
        })
    }

    /// An optional boolean key of `t` (false when absent).
    fn flag(&self, t: &Table<'_, '_>, name: &str) -> Result<bool, Fail> {
        match t.get(name) {
            Some((key, v)) => match v.get_ref() {
                DeValue::Boolean(b) => Ok(*b),
                _ => Err(Fail::at(
                    v.span().start,
                    format!("`{}` must be true or false", key.value),
                )),
            },
            None => Ok(false),
        }
    }

    fn step(&mut self, v: &Value<'_>) -> Result<RawStep, Fail> {
        let t = self.table(v, "a step", "each step must be a table", STEP_KEYS)?;
        let mut kinds = t
            .entries
            .iter()
            .filter(|(k, _)| STEP_KINDS.contains(&k.value.as_str()));
        let first = kinds.next();
        if let (Some((a, _)), Some((b, _))) = (first, kinds.next()) {
            return Err(Fail::at(
                b.at,
                format!(
                    "`{}` and `{}` in one step: a step has exactly one of {KIND_LIST}",
                    a.value, b.value
                ),
            ));
        }
        let kind = first.map(|(k, _)| k.value.as_str());
        for (key, _) in &t.entries {
            let message = match key.value.as_str() {
                "group_by" if kind != Some("aggregates") => {
                    format!("`{}` needs `aggregates` in the same step", key.value)
                }
                "window" if kind.is_some_and(|k| k != "aggregates") => {
                    format!(
                        "`window` goes with `aggregates` or alone, not with `{}`",
                        kind.unwrap_or_default()
                    )
                }
                "between" if kind != Some("interval_join") => {
                    "`between` applies only to an `interval_join` step".to_string()
                }
                "kind" if !matches!(kind, Some("join" | "interval_join" | "window_join")) => {
                    "`kind` applies only to a `join`, `interval_join` or `window_join` step (a window's kind goes inside `window`)"
                        .to_string()
                }
                "left_on" | "right_on"
                    if !matches!(kind, Some("join" | "interval_join" | "window_join")) =>
                {
                    format!("`{}` applies only to a join step", key.value)
                }
                "partition_by" | "order_by" | "rank" | "ranking" if kind != Some("top_n") => {
                    format!("`{}` applies only to a `top_n` step", key.value)
                }
                _ => continue,
            };
            return Err(Fail::at(key.at, message));
        }
        let Some((key, value)) = first else {
            if let Some((key, v)) = t.get("window") {
                return Ok(RawStep::Window(self.window(key, v)?));
            }
            return Err(Fail::at(t.at, format!("a step needs one of {KIND_LIST}")));
        };
        Ok(match key.value.as_str() {
            "filter" => RawStep::Filter(self.string(key, value)?),
            "map" => RawStep::Map(self.string_table(key, value, false)?),
            "flat_map" => {
                let mut entries = self.string_table(key, value, false)?;
                match (entries.pop(), entries.is_empty()) {
                    (Some((name, expr)), true) => RawStep::FlatMap(name, expr),
                    _ => {
                        return Err(Fail::at(
                            value.span().start,
                            "`flat_map` needs exactly one entry: { name = \"list expression\" }",
                        ));
                    }
                }
            }
            "aggregates" => RawStep::Aggregate {
                key: key.clone(),
                window: match t.get("window") {
                    Some((key, v)) => Some(self.window(key, v)?),
                    None => None,
                },
                group_by: match t.get("group_by") {
                    Some((key, v)) => self.group_by(key, v)?,
                    None => GroupBy::Paths(Vec::new()),
                },
                aggregates: self.aggregates(value, t.get("group_by").is_some())?,
            },
            "top_n" => self.top_n(&t, key)?,
            "interval_join" => RawStep::IntervalJoin {
                on: self.join_on(&t, key, value, false)?,
                between: between(&t, key)?,
                kind: self.opt_string(&t, "kind")?,
            },
            "window_join" => RawStep::WindowJoin {
                on: self.join_on(&t, key, value, true)?,
                kind: self.opt_string(&t, "kind")?,
            },
            "distinct" => match value.get_ref() {
                DeValue::Boolean(true) => RawStep::Distinct(key.clone()),
                _ => {
                    return Err(Fail::at(
                        value.span().start,
                        "`distinct` must be true (each distinct row once)",
                    ));
                }
            },
            "union" => {
                let with = self.strings(key, value)?;
                if with.is_empty() {
                    return Err(Fail::at(
                        value.span().start,
                        "`union` needs at least one source or earlier pipeline",
                    ));
                }
                RawStep::Union(with)
            }
            _ => {
                let on = |side: &str| {
                    t.get(side).ok_or_else(|| {
                        Fail::at(key.at, format!("a join needs `{side}` (key expressions)"))
                    })
                };
                let (left_key, left) = on("left_on")?;
                let (right_key, right) = on("right_on")?;
                let with = self.string(key, value)?;
                let left_on = self.strings(left_key, left)?;
                let right_on = self.strings(right_key, right)?;
                if left_on.is_empty() || left_on.len() != right_on.len() {
                    let (key, n) = match left_on.len() {
                        0 => (left_key, 1),
                        n => (right_key, n),
                    };
                    let message = format!(
                        "`{}` needs {n} key expression(s): as many as `left_on`, at least one",
                        key.value
                    );
                    return Err(Fail::at(key.at, message));
                }
                RawStep::Join {
                    with,
                    left_on,
                    right_on,
                    kind: self.opt_string(&t, "kind")?,
                }
            }
        })
    }

    /// The other input and the keys of an interval or window join; a window join may have
    /// none (`optional`: it joins on the window alone).
    fn join_on(
        &mut self,
        t: &Table<'_, '_>,
        key: &Str,
        value: &Value<'_>,
        optional: bool,
    ) -> Result<RawJoinOn, Fail> {
        let with = self.string(key, value)?;
        let mut keys = |side: &str| match t.get(side) {
            Some((k, v)) => self.strings(k, v).map(|s| (Some(k.clone()), s)),
            None => Ok((None, Vec::new())),
        };
        let (left_key, left_on) = keys("left_on")?;
        let (right_key, right_on) = keys("right_on")?;
        if left_on.len() != right_on.len() || (left_on.is_empty() && !optional) {
            let (at, n) = match (&right_key, left_on.len()) {
                (Some(k), n) if n > 0 => (k.at, n),
                _ => (left_key.as_ref().map_or(key.at, |k| k.at), 1),
            };
            let side = if n == left_on.len() && n > 0 {
                "right_on"
            } else {
                "left_on"
            };
            return Err(Fail::at(
                at,
                format!(
                    "`{side}` needs {n} key expression(s): as many as the other side, at least one"
                ),
            ));
        }
        Ok(RawJoinOn {
            with,
            left_on,
            right_on,
            at: key.at,
        })
    }

    /// `top_n = N` with `order_by`, and optionally `partition_by`, `rank` and `ranking`.
    fn top_n(&mut self, t: &Table<'_, '_>, key: &Str) -> Result<RawStep, Fail> {
        let limit = opt_uint(t, "top_n", true, " (rows per partition)")?.unwrap_or(Num {
            value: 0,
            at: key.at,
        });
        let order_by = match t.get("order_by") {
            Some((k, v)) => self.strings(k, v)?,
            None => Vec::new(),
        };
        if order_by.is_empty() {
            return Err(Fail::at(
                key.at,
                "a `top_n` step needs `order_by` (expressions, each optionally followed by DESC)",
            ));
        }
        Ok(RawStep::TopN {
            limit,
            partition_by: match t.get("partition_by") {
                Some((k, v)) => self.strings(k, v)?,
                None => Vec::new(),
            },
            order_by,
            rank: self.opt_string(t, "rank")?,
            ranking: self.opt_string(t, "ranking")?,
        })
    }

    /// The `aggregates` table: each entry a call, or a table with the call and a filter. It
    /// may be empty beside a `group_by` (each distinct group once).
    fn aggregates(&mut self, v: &Value<'_>, grouped: bool) -> Result<Vec<RawAgg>, Fail> {
        let message = "`aggregates` must be a table of `name = \"func(arg)\"` entries";
        let t = self.table(v, "", message, &[])?;
        if t.entries.is_empty() && !grouped {
            return Err(Fail::at(
                t.at,
                "`aggregates` needs at least one `name = \"...\"` entry (or a `group_by`)",
            ));
        }
        let mut out = Vec::new();
        for (name, v) in &t.entries {
            if let DeValue::Table(_) = v.get_ref() {
                let what = format!("aggregate `{}`", name.value);
                let entry = self.table(v, &what, message, AGG_KEYS)?;
                let call = self.opt_string(&entry, "aggregate")?.ok_or_else(|| {
                    Fail::at(
                        entry.at,
                        format!(
                            "aggregate `{}` needs `aggregate = \"func(arg)\"`",
                            name.value
                        ),
                    )
                })?;
                let filter = self.opt_string(&entry, "filter")?;
                out.push(RawAgg {
                    name: name.clone(),
                    call,
                    filter,
                });
                continue;
            }
            let message = format!(
                "`aggregates` entry `{}` must be a string or a table {{ aggregate = \"…\", filter = \"…\" }}",
                name.value
            );
            let call = self
                .string(name, v)
                .map_err(|e| Fail::at(e.offset, message))?;
            out.push(RawAgg {
                name: name.clone(),
                call,
                filter: None,
            });
        }
        Ok(out)
    }

    fn window(&mut self, key: &Str, v: &Value<'_>) -> Result<RawWindow, Fail> {
        let message = "`window` must be a table, e.g. { kind = \"tumbling\", size = 1000 }";
        let t = self.table(v, "a window", message, WINDOW_KEYS)?;
        let ms = " (milliseconds)";
        Ok(RawWindow {
            key: key.clone(),
            at: t.at,
            kind: self.opt_string(&t, "kind")?,
            size: opt_uint(&t, "size", true, ms)?,
            slide: opt_uint(&t, "slide", true, ms)?,
            gap: opt_uint(&t, "gap", true, ms)?,
            emit: self.opt_string(&t, "emit")?,
            allowed_lateness: opt_uint(&t, "allowed_lateness", false, ms)?,
        })
    }

    fn group_by(&mut self, key: &Str, v: &Value<'_>) -> Result<GroupBy, Fail> {
        match v.get_ref() {
            DeValue::Table(_) => Ok(GroupBy::Named(self.string_table(key, v, true)?)),
            _ => Ok(GroupBy::Paths(self.strings(key, v).map_err(|e| {
                Fail::at(
                    e.offset,
                    "`group_by` must be an array of field names or a table { name = \"expression\" }",
                )
            })?)),
        }
    }

    /// The entries of `table` (which starts at `at`) in file order, all in `known` (if given).
    fn entries<'v, 'i>(
        &self,
        table: &'v DeTable<'i>,
        at: usize,
        what: &str,
        known: &[&str],
    ) -> Result<Table<'v, 'i>, Fail> {
        let mut entries: Vec<(Str, &Value<'i>)> =
            table.iter().map(|(k, v)| (self.key(k), v)).collect();
        entries.sort_by_key(|(k, _)| k.at);
        if let Some((key, _)) = entries
            .iter()
            .find(|(k, _)| !known.is_empty() && !known.contains(&k.value.as_str()))
        {
            return Err(
                Fail::at(key.at, format!("unknown key `{}` in {what}", key.value))
                    .suggest(suggest(&key.value, known)),
            );
        }
        Ok(Table { at, entries })
    }

    fn table<'v, 'i>(
        &self,
        v: &'v Value<'i>,
        what: &str,
        not_table: &str,
        known: &[&str],
    ) -> Result<Table<'v, 'i>, Fail> {
        match v.get_ref() {
            DeValue::Table(t) => self.entries(t, v.span().start, what, known),
            _ => Err(Fail::at(v.span().start, not_table)),
        }
    }

    /// The tables of an array of tables (or of an inline array of inline tables).
    fn tables<'v, 'i>(
        &self,
        key: &Str,
        v: &'v Value<'i>,
        message: &str,
    ) -> Result<Vec<&'v Value<'i>>, Fail> {
        let DeValue::Array(items) = v.get_ref() else {
            return Err(Fail::at(key.at, message));
        };
        if let Some(item) = items
            .iter()
            .find(|i| !matches!(i.get_ref(), DeValue::Table(_)))
        {
            return Err(Fail::at(item.span().start, message));
        }
        Ok(items.iter().collect())
    }

    fn key(&self, key: &Spanned<DeString<'_>>) -> Str {
        let start = key.span().start;
        let quoted = matches!(self.text.as_bytes().get(start), Some(b'"' | b'\''));
        Str {
            value: key.get_ref().to_string(),
            at: start + usize::from(quoted),
        }
    }

    fn string(&mut self, key: &Str, v: &Value<'_>) -> Result<Str, Fail> {
        match v.get_ref() {
            DeValue::String(s) => {
                let (at, escaped) = literal::content(self.text, v.span(), s);
                self.escaped.extend(escaped);
                Ok(Str {
                    value: s.to_string(),
                    at,
                })
            }
            _ => Err(Fail::at(
                v.span().start,
                format!("`{}` must be a string", key.value),
            )),
        }
    }

    fn opt_string(&mut self, t: &Table<'_, '_>, name: &str) -> Result<Option<Str>, Fail> {
        t.get(name).map(|(key, v)| self.string(key, v)).transpose()
    }

    /// An array of strings, or a single string.
    fn strings(&mut self, key: &Str, v: &Value<'_>) -> Result<Vec<Str>, Fail> {
        let message = format!("`{}` must be an array of strings", key.value);
        match v.get_ref() {
            DeValue::String(_) => Ok(vec![self.string(key, v)?]),
            DeValue::Array(items) => items
                .iter()
                .map(|item| {
                    self.string(key, item)
                        .map_err(|e| Fail::at(e.offset, message.clone()))
                })
                .collect(),
            _ => Err(Fail::at(v.span().start, message)),
        }
    }

    /// A table of `name = "expression"` entries, in file order (`group_by` may be empty).
    fn string_table(
        &mut self,
        key: &Str,
        v: &Value<'_>,
        may_be_empty: bool,
    ) -> Result<Vec<(Str, Str)>, Fail> {
        let k = &key.value;
        let message = format!("`{k}` must be a table of `name = \"expression\"` entries");
        let t = self.table(v, "", &message, &[])?;
        if t.entries.is_empty() && !may_be_empty {
            return Err(Fail::at(
                t.at,
                format!("`{k}` needs at least one `name = \"...\"` entry"),
            ));
        }
        let mut out = Vec::new();
        for (name, v) in &t.entries {
            let message = format!("`{k}` entry `{}` must be a string", name.value);
            let text = self
                .string(name, v)
                .map_err(|e| Fail::at(e.offset, message))?;
            out.push((name.clone(), text));
        }
        Ok(out)
    }
}

fn opt_uint(
    t: &Table<'_, '_>,
    name: &str,
    positive: bool,
    unit: &str,
) -> Result<Option<Num>, Fail> {
    let Some((key, v)) = t.get(name) else {
        return Ok(None);
    };
    let value = match v.get_ref() {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    let min = i128::from(positive);
    match value
        .filter(|n| *n >= min)
        .and_then(|n| u64::try_from(n).ok())
    {
        Some(value) => Ok(Some(Num { value, at: key.at })),
        None => {
            let what = if positive {
                "a positive"
            } else {
                "a non-negative"
            };
            Err(Fail::at(
                v.span().start,
                format!("`{name}` must be {what} integer{unit}"),
            ))
        }
    }
}

/// `between = [lower, upper]`: two integers (ms, either may be negative), lower <= upper.
fn between(t: &Table<'_, '_>, key: &Str) -> Result<(i64, i64), Fail> {
    let message = "`between` must be [lower, upper]: the left row's ts minus the right row's, in ms (inclusive)";
    let Some((_, v)) = t.get("between") else {
        return Err(Fail::at(
            key.at,
            "an `interval_join` needs `between = [lower, upper]` (ms: the left row's ts minus the right row's)",
        ));
    };
    let DeValue::Array(items) = v.get_ref() else {
        return Err(Fail::at(v.span().start, message));
    };
    let ints: Option<Vec<i64>> = items
        .iter()
        .map(|i| match i.get_ref() {
            DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix()).ok(),
            _ => None,
        })
        .collect();
    match ints.as_deref() {
        Some([lower, upper]) if lower <= upper => Ok((*lower, *upper)),
        Some([_, _]) => Err(Fail::at(v.span().start, "`between` needs lower <= upper")),
        _ => Err(Fail::at(v.span().start, message)),
    }
}

fn number(key: &Str, v: &Value<'_>) -> Result<f64, Fail> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| Fail::at(v.span().start, format!("`{}` must be a number", key.value)))
}
