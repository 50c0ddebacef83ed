//! Event routes: changes matched by kind and key pattern, by priority, to named handlers —
//! functions (Rust closures), conditionals (a predicate and an action), batches (by size and
//! event-time timeout) — with counts per route and kind per window.
//!
//! Decisions:
//! - **The first matching route takes an event** (routes sorted by descending priority,
//!   then name), like a router's table; a route with several handlers fans out.
//! - **One worker routes.** Every change is exchanged to worker 0 and handled there in
//!   `(time, seq)` order, so handlers see the same order in every run, with any number of
//!   workers, and in `kvflow replay` — the order is part of what routes promise. Routing is
//!   light next to the dataflows; a handler that needs parallel work can hand it off.
//! - **Part of the dataflow a run builds**: the
//!   [`RouteTable`](crate::plan::sinks::RouteTable) lives in the plan, its state
//!   in the routing operator; nothing global. Replaying a data directory through a dataflow
//!   file with routes (`kvflow replay`) re-sends its history through them. A resumed durable
//!   run writes each time's routed lines once and does not call functions again for times
//!   its checkpoint covers.
//! - Batch timeouts are in event time (deterministic, replayable), not the wall clock.

pub mod dispatch;

pub use dispatch::{Dispatcher, RouteOutputs, RouteStats, route_changes};
