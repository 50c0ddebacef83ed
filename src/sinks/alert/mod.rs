//! Alerts: a condition over a pipeline's rows, a message, a severity, dedup per group with
//! a cooldown in event time, delivered to webhooks, a JSON Lines output or stdout.
//!
//! Layout: `config` (typed settings), `template` (messages), `rule` (evaluation, dedup,
//! cooldown), `operator` (the timely side: the log and stdout written on the worker, each
//! webhook's alerts handed to its queue), `deliver` (webhooks, each on a queue and thread
//! of its own). Rows are routed to workers by their group fields, so a group's cooldown is
//! decided in one place.
//!
//! Decision: **a slow target slows only itself.** Each webhook of an alert has its own
//! bounded queue and delivery thread per worker, with a timeout per request, retries with
//! backoff and a dead-letter output (`sinks::delivery`, shared with sync sinks); the log and
//! stdout do not wait for any webhook. A full queue holds the dataflow's input back without
//! blocking the worker (see `operator`), and at the end of a bounded run everything queued
//! is delivered or dead-lettered before the run returns.

pub mod deliver;
pub mod operator;
pub mod rule;

pub use operator::{Alert, AlertOutputs, alert_rows};
