//! `[[routes]]` and `[routing]` into a [`RouteTable`].
//!
//! ```toml
//! [routing]
//! counts_window_ms = 10000             # counts per route and kind, per window (default 60 s)
//!
//! [routing.handlers.big_orders]
//! kind = "conditional"                 # "each" | "conditional" | "batch"
//! condition = "CAST(value.amount AS INT) > 400"   # over key, ts, kind, seq, value, old
//! action = "log"                       # "log" (<handler>.routed output) | "stdout"
//!
//! [routing.handlers.order_batches]
//! kind = "batch"
//! size = 100                           # a batch goes at this size ...
//! timeout_ms = 5000                    # ... or when an event is this much later (event time)
//!
//! [[routes]]
//! name = "orders"
//! kinds = ["insert", "update"]         # default: every kind
//! key_regex = "^order_"
//! priority = 10                        # the first matching route by priority takes an event
//! handlers = ["big_orders", "order_batches"]
//! ```
//!
//! Function handlers (Rust closures) are added with the Rust API ([`RouteTable::function`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::error::Fail;
use super::spans::{file_name, inside, key_start};
use crate::change::EventKind;
use crate::expr::Expr;
use crate::plan::sinks::{Action, BatchAction, Handler, Route, RouteTable};
use crate::schema::Schema;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouting {
    counts_window_ms: Option<u64>,
    #[serde(default)]
    handlers: BTreeMap<Spanned<String>, Spanned<RawHandler>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHandler {
    kind: Spanned<String>,
    condition: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    size: Option<u64>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    name: Spanned<String>,
    kinds: Option<Vec<Spanned<String>>>,
    key_regex: Option<Spanned<String>>,
    priority: Option<i64>,
    handlers: Vec<Spanned<String>>,
}

const HANDLER_KINDS: &[&str] = &["each", "conditional", "batch"];
const ACTIONS: &[&str] = &["log", "stdout"];

/// `text` is the file's text (to locate handler names, which are keys).
pub(super) fn convert(
    text: &str,
    routing: Option<&RawRouting>,
    routes: &[Spanned<RawRoute>],
) -> Result<Option<Arc<RouteTable>>, Fail> {
    let default = RawRouting::default();
    let routing = routing.unwrap_or(&default);
    if routes.is_empty() && routing.handlers.is_empty() {
        return Ok(None);
    }
    let mut table = RouteTable::new(routing.counts_window_ms.unwrap_or(60_000));
    for (name, raw) in &routing.handlers {
        // A handler's name names its `<handler>.routed` output file.
        file_name(name.get_ref(), key_start(text, name))?;
        table.handler(name.get_ref(), handler(raw)?);
    }
    let names: Vec<&str> = routing
        .handlers
        .keys()
        .map(|k| k.get_ref().as_str())
        .collect();
    for raw in routes {
        table.route(route(raw.get_ref(), &names)?);
    }
    Ok(Some(Arc::new(table)))
}

fn action(raw: &Option<Spanned<String>>) -> Result<Action, Fail> {
    match raw {
        None => Ok(Action::Log),
        Some(a) => match a.get_ref().as_str() {
            "log" => Ok(Action::Log),
            "stdout" => Ok(Action::Stdout),
            other => Err(Fail::at(inside(a), format!("unknown action `{other}`"))
                .suggest(crate::expr::suggest(other, ACTIONS))),
        },
    }
}

fn handler(raw: &Spanned<RawHandler>) -> Result<Handler, Fail> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    Ok(match raw.kind.get_ref().as_str() {
        "each" => Handler::Each(action(&raw.action)?),
        "conditional" => {
            let condition = raw
                .condition
                .as_ref()
                .ok_or_else(|| Fail::at(at, "a conditional handler needs a `condition`"))?;
            let predicate = Expr::compile(condition.get_ref(), &Schema::events()).map_err(|e| {
                Fail::at(inside(condition) + e.offset, e.message).suggest(e.suggestion)
            })?;
            Handler::Conditional {
                predicate,
                action: action(&raw.action)?,
            }
        }
        "batch" => {
            if let Action::Stdout = action(&raw.action)? {
                return Err(Fail::at(at, "a batch handler's action is \"log\""));
            }
            Handler::Batch {
                size: raw.size.unwrap_or(100).max(1) as usize,
                timeout_ms: raw.timeout_ms.unwrap_or(u64::MAX),
                action: BatchAction::Log,
            }
        }
        other => {
            return Err(
                Fail::at(inside(&raw.kind), format!("unknown handler kind `{other}`"))
                    .suggest(crate::expr::suggest(other, HANDLER_KINDS)),
            );
        }
    })
}

fn route(raw: &RawRoute, handlers: &[&str]) -> Result<Route, Fail> {
    let mut route = Route::new(raw.name.get_ref()).priority(raw.priority.unwrap_or(0));
    if let Some(kinds) = &raw.kinds {
        let mut parsed = Vec::new();
        for kind in kinds {
            parsed.push(EventKind::parse(kind.get_ref()).ok_or_else(|| {
                Fail::at(
                    inside(kind),
                    format!("unknown event kind `{}`", kind.get_ref()),
                )
                .suggest(crate::expr::suggest(
                    kind.get_ref(),
                    &["insert", "update", "delete"],
                ))
            })?);
        }
        route = route.kinds(parsed);
    }
    if let Some(pattern) = &raw.key_regex {
        let regex = crate::store::KeyPattern::new(pattern.get_ref())
            .map_err(|e| Fail::at(inside(pattern), format!("bad key pattern: {e}")))?;
        route.key_regex = Some(regex);
    }
    for name in &raw.handlers {
        if !handlers.contains(&name.get_ref().as_str()) {
            return Err(Fail::at(
                inside(name),
                format!("no handler `{}` in [routing.handlers]", name.get_ref()),
            )
            .suggest(crate::expr::suggest(name.get_ref(), handlers)));
        }
        route = route.handler(name.get_ref());
    }
    Ok(route)
}
