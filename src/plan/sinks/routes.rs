//! Routes and handlers: what matches an event, and what is done with it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::change::{ChangeEvent, EventKind};
use crate::expr::{Expr, ExprError};
use crate::schema::Schema;
use crate::store::KeyPattern;

/// A route: events of some kinds whose key matches a pattern, sent to named handlers.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    /// Empty: every kind.
    pub kinds: Vec<EventKind>,
    pub key_regex: Option<KeyPattern>,
    /// Higher first; the first route that matches an event takes it.
    pub priority: i64,
    pub handlers: Vec<String>,
}

impl Route {
    pub fn new(name: &str) -> Route {
        Route {
            name: name.to_string(),
            kinds: Vec::new(),
            key_regex: None,
            priority: 0,
            handlers: Vec::new(),
        }
    }

    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Route {
        self.kinds = kinds.into_iter().collect();
        self
    }

    pub fn key_regex(mut self, pattern: &str) -> Result<Route, regex::Error> {
        self.key_regex = Some(KeyPattern::new(pattern)?);
        Ok(self)
    }

    pub fn priority(mut self, priority: i64) -> Route {
        self.priority = priority;
        self
    }

    pub fn handler(mut self, name: &str) -> Route {
        self.handlers.push(name.to_string());
        self
    }

    pub fn matches(&self, event: &ChangeEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&event.kind))
            && self
                .key_regex
                .as_ref()
                .is_none_or(|r| r.is_match(&event.key))
    }
}

/// A function of one event (Rust API).
pub type EventFn = Arc<dyn Fn(&ChangeEvent) + Send + Sync>;
/// A function of a batch of events (Rust API).
pub type BatchFn = Arc<dyn Fn(&[ChangeEvent]) + Send + Sync>;

/// What a handler does with an event (or a batch).
#[derive(Clone)]
pub enum Action {
    /// One JSON line per event to the run's `<handler>.routed` output.
    Log,
    /// One line per event on stdout.
    Stdout,
    Function(EventFn),
}

/// What a batch handler does with a full batch.
#[derive(Clone)]
pub enum BatchAction {
    /// One JSON line per batch (`{"handler":..,"events":[..]}`) to `<handler>.routed`.
    Log,
    Function(BatchFn),
}

/// A named handler.
#[derive(Clone)]
pub enum Handler {
    /// Every event routed to it.
    Each(Action),
    /// The events for which the predicate (over the events view's fields) holds.
    Conditional { predicate: Expr, action: Action },
    /// Events in batches: a batch goes when it has `size` events, or when an event arrives
    /// `timeout_ms` (event time) after the batch's first, and at the end of the run.
    Batch {
        size: usize,
        timeout_ms: u64,
        action: BatchAction,
    },
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handler::Each(_) => f.write_str("Each"),
            Handler::Conditional { predicate, .. } => {
                write!(f, "Conditional({})", predicate.text())
            }
            Handler::Batch {
                size, timeout_ms, ..
            } => {
                write!(f, "Batch(size {size}, timeout {timeout_ms} ms)")
            }
        }
    }
}

/// A run's routes and handlers, and the window of its per-route counts.
#[derive(Clone, Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    pub(crate) handlers: BTreeMap<String, Handler>,
    /// Counts per route and kind are emitted per tumbling window of this size (event time).
    pub counts_window_ms: u64,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            routes: Vec::new(),
            handlers: BTreeMap::new(),
            counts_window_ms: 60_000,
        }
    }
}

impl RouteTable {
    pub fn new(counts_window_ms: u64) -> RouteTable {
        RouteTable {
            counts_window_ms: counts_window_ms.max(1),
            ..RouteTable::default()
        }
    }

    /// Adds a route; routes are kept by descending priority, then name.
    pub fn route(&mut self, route: Route) -> &mut Self {
        self.routes.push(route);
        self.routes.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        self
    }

    pub fn handler(&mut self, name: &str, handler: Handler) -> &mut Self {
        self.handlers.insert(name.to_string(), handler);
        self
    }

    /// A handler calling `f` for each event.
    pub fn function(
        &mut self,
        name: &str,
        f: impl Fn(&ChangeEvent) + Send + Sync + 'static,
    ) -> &mut Self {
        self.handler(name, Handler::Each(Action::Function(Arc::new(f))))
    }

    /// A handler running `action` for the events where `predicate` holds.
    pub fn conditional(
        &mut self,
        name: &str,
        predicate: &str,
        action: Action,
    ) -> Result<&mut Self, ExprError> {
        let predicate = Expr::compile(predicate, &Schema::events())?;
        Ok(self.handler(name, Handler::Conditional { predicate, action }))
    }

    /// A handler calling `f` with batches of events.
    pub fn batch(
        &mut self,
        name: &str,
        size: usize,
        timeout_ms: u64,
        f: impl Fn(&[ChangeEvent]) + Send + Sync + 'static,
    ) -> &mut Self {
        let action = BatchAction::Function(Arc::new(f));
        self.handler(
            name,
            Handler::Batch {
                size: size.max(1),
                timeout_ms,
                action,
            },
        )
    }

    pub fn routes(&self) -> &[Route] {
        self.routes.iter().as_slice()
    }

    /// The first route (by priority) that matches the event.
    pub fn route_of(&self, event: &ChangeEvent) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(event))
    }

    /// Handlers whose output is the run's `<handler>.routed` (log actions).
    pub fn logged_handlers(&self) -> Vec<String> {
        self.handlers
            .iter()
            .filter(|(_, h)| {
                matches!(
                    h,
                    Handler::Each(Action::Log)
                        | Handler::Conditional {
                            action: Action::Log,
                            ..
                        }
                        | Handler::Batch {
                            action: BatchAction::Log,
                            ..
                        }
                )
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every handler a route names must exist.
    pub fn check(&self) -> Result<(), String> {
        for route in &self.routes {
            for name in &route.handlers {
                if !self.handlers.contains_key(name) {
                    return Err(format!("route `{}` names no handler `{name}`", route.name));
                }
            }
        }
        Ok(())
    }
}
