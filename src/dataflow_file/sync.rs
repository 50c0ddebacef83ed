//! `[[sync]]` tables (see `outputs` for the keys) into [`SyncConfig`]s.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::error::Fail;
use super::spans::{file_name, inside, known_name};
use crate::plan::sinks::ConflictPolicy;
use crate::plan::sinks::RetryConfig;
use crate::plan::sinks::{BatchConfig, HealthConfig, SyncConfig, SyncSource, TargetConfig};
use crate::plan::{Node, Plan};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    name: Spanned<String>,
    from: Option<Spanned<String>>,
    keys: Option<Spanned<Vec<Spanned<String>>>>,
    key: Option<Spanned<Vec<Spanned<String>>>>,
    ts: Option<Spanned<String>>,
    target: Spanned<RawTarget>,
    standby: Option<Spanned<RawTarget>>,
    conflict: Option<Spanned<String>>,
    conflict_log: Option<bool>,
    origin: Option<Spanned<String>>,
    target_origin: Option<Spanned<String>>,
    batch_size: Option<Spanned<u64>>,
    batch_timeout_ms: Option<u64>,
    queue: Option<Spanned<u64>>,
    max_retries: Option<u32>,
    retry_delay_ms: Option<u64>,
    retry_cap_ms: Option<u64>,
    health_interval_ms: Option<u64>,
    health_failures: Option<u32>,
    timeout_ms: Option<u64>,
    tombstone_retention_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    prefix: Option<String>,
    table: Option<Spanned<String>>,
    versions: Option<bool>,
}

const TARGET_KINDS: &[&str] = &["redis", "postgres", "kvflow"];

pub(super) fn convert(raw: &Spanned<RawSync>, plan: &Plan) -> Result<SyncConfig, Fail> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    let name = raw.name.get_ref().clone();
    if name.is_empty() {
        return Err(Fail::at(
            inside(&raw.name),
            "a sync sink needs a non-empty `name`",
        ));
    }
    // A sync sink's name names its dead-letter and conflict output files.
    file_name(&name, inside(&raw.name))?;
    let source = source(raw, plan, at)?;
    let policy = match &raw.conflict {
        Some(p) => ConflictPolicy::parse(p.get_ref()).ok_or_else(|| {
            Fail::at(
                inside(p),
                format!("unknown conflict policy `{}`", p.get_ref()),
            )
            .suggest(crate::expr::suggest(p.get_ref(), ConflictPolicy::NAMES))
        })?,
        None => ConflictPolicy::SourceWins,
    };
    let conflict_log = raw.conflict_log.unwrap_or(false);
    let target = target_of(&raw.target, policy, conflict_log)?;
    let standby = raw
        .standby
        .as_ref()
        .map(|s| target_of(s, policy, conflict_log))
        .transpose()?;
    let positive = |v: &Option<Spanned<u64>>, default: usize, what: &str| match v {
        Some(n) if *n.get_ref() == 0 => Err(Fail::at(
            n.span().start,
            format!("`{what}` must be positive"),
        )),
        Some(n) => Ok(*n.get_ref() as usize),
        None => Ok(default),
    };
    let batch = BatchConfig {
        size: positive(&raw.batch_size, BatchConfig::default().size, "batch_size")?,
        timeout: raw
            .batch_timeout_ms
            .map_or(BatchConfig::default().timeout, Duration::from_millis),
    };
    let defaults = (RetryConfig::default(), HealthConfig::default());
    Ok(SyncConfig {
        name,
        source,
        target,
        standby,
        policy,
        conflict_log,
        origin: node_id(&raw.origin)?.unwrap_or_else(|| Arc::from("local")),
        target_origin: node_id(&raw.target_origin)?,
        queue: positive(&raw.queue, 10_000, "queue")?.max(batch.size),
        tombstone_retention: raw.tombstone_retention_ms,
        batch,
        retry: RetryConfig {
            max_retries: raw.max_retries.unwrap_or(defaults.0.max_retries),
            delay: raw
                .retry_delay_ms
                .map_or(defaults.0.delay, Duration::from_millis),
            cap: raw
                .retry_cap_ms
                .map_or(defaults.0.cap, Duration::from_millis),
        },
        health: HealthConfig {
            interval: raw
                .health_interval_ms
                .map_or(defaults.1.interval, Duration::from_millis),
            failures: raw.health_failures.unwrap_or(defaults.1.failures).max(1),
            timeout: raw
                .timeout_ms
                .map_or(defaults.1.timeout, Duration::from_millis),
        },
    })
}

fn node_id(raw: &Option<Spanned<String>>) -> Result<Option<Arc<str>>, Fail> {
    match raw {
        Some(id) if id.get_ref().is_empty() || id.get_ref().contains(char::is_whitespace) => Err(
            Fail::at(inside(id), "a node id must be non-empty, without spaces"),
        ),
        Some(id) => Ok(Some(Arc::from(id.get_ref().as_str()))),
        None => Ok(None),
    }
}

fn source(raw: &RawSync, plan: &Plan, at: usize) -> Result<SyncSource, Fail> {
    match (&raw.from, &raw.keys) {
        (Some(_), Some(keys)) => Err(Fail::at(
            keys.span().start,
            "`from` and `keys` are exclusive: sync a pipeline, or the table's keys",
        )),
        (None, None) => Err(Fail::at(
            at,
            format!(
                "sync `{}` needs `from` (a pipeline) or `keys` (key patterns of the table)",
                raw.name.get_ref()
            ),
        )),
        (None, Some(keys)) => {
            let mut patterns = Vec::new();
            for key in keys.get_ref() {
                let regex = Regex::new(key.get_ref())
                    .map_err(|e| Fail::at(inside(key), format!("bad key pattern: {e}")))?;
                patterns.push(regex);
            }
            Ok(SyncSource::Table { keys: patterns })
        }
        (Some(from), None) => pipeline_source(raw, from, plan),
    }
}

fn pipeline_source(raw: &RawSync, from: &Spanned<String>, plan: &Plan) -> Result<SyncSource, Fail> {
    let pipelines: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
    let index = known_name(from, &pipelines, "pipeline")?;
    let pipeline = &plan.pipelines[index];
    let names = pipeline.schema().names();
    let key_fields = match &raw.key {
        Some(key) if key.get_ref().is_empty() => {
            return Err(Fail::at(key.span().start, "`key` needs at least one field"));
        }
        Some(key) => key
            .get_ref()
            .iter()
            .map(|field| known_name(field, &names, "field"))
            .collect::<Result<Vec<_>, _>>()?,
        None => default_key(pipeline, &names).ok_or_else(|| {
            Fail::at(
                inside(from),
                format!(
                    "pipeline `{}` has no group fields or `key` field: give the sync a `key` \
                     (the fields that make the target key)",
                    from.get_ref()
                ),
            )
        })?,
    };
    let ts_field = match &raw.ts {
        Some(ts) => Some(known_name(ts, &names, "field")?),
        None => None,
    };
    Ok(SyncSource::Pipeline {
        pipeline: pipeline.name.clone(),
        names,
        key_fields,
        ts_field,
    })
}

/// An aggregate's window and group fields; otherwise a field named `key`.
fn default_key(pipeline: &crate::plan::PipelineDef, names: &[String]) -> Option<Vec<usize>> {
    match &pipeline.node {
        Node::Aggregate { .. } if pipeline.key_fields() > 0 => {
            Some((0..pipeline.key_fields()).collect())
        }
        _ => names.iter().position(|n| n == "key").map(|i| vec![i]),
    }
}

fn target_of(
    raw: &Spanned<RawTarget>,
    policy: ConflictPolicy,
    conflict_log: bool,
) -> Result<TargetConfig, Fail> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    let url = raw
        .url
        .as_ref()
        .map(|u| u.get_ref().clone())
        .ok_or_else(|| Fail::at(at, "a sync target needs a `url`"))?;
    let prefix = raw.prefix.clone().unwrap_or_default();
    let target = match raw.kind.get_ref().as_str() {
        "redis" => TargetConfig::Redis {
            url,
            prefix,
            versions: raw.versions.unwrap_or(true),
        },
        "postgres" => {
            let table = raw
                .table
                .as_ref()
                .ok_or_else(|| Fail::at(at, "a postgres target needs a `table`"))?;
            let valid =
                Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
                    .map(|r| r.is_match(table.get_ref()))
                    .unwrap_or(false);
            if !valid {
                return Err(Fail::at(
                    inside(table),
                    "`table` must be a plain SQL name (letters, digits, _; optionally schema.name)",
                ));
            }
            TargetConfig::Postgres {
                url,
                table: table.get_ref().clone(),
            }
        }
        "kvflow" => TargetConfig::Kvflow { url, prefix },
        other => {
            return Err(
                Fail::at(inside(&raw.kind), format!("unknown target kind `{other}`"))
                    .suggest(crate::expr::suggest(other, TARGET_KINDS)),
            );
        }
    };
    let plain = matches!(
        target,
        TargetConfig::Kvflow { .. }
            | TargetConfig::Redis {
                versions: false,
                ..
            }
    );
    if plain && (policy != ConflictPolicy::SourceWins || conflict_log) {
        return Err(Fail::at(
            inside(&raw.kind),
            "this target keeps no versions: it takes only conflict = \"source-wins\" and no \
             conflict_log (a kvflow node resolves conflicts itself)",
        ));
    }
    Ok(target)
}
