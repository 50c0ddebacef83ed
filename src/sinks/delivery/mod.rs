//! The delivery machinery of the sinks that send outside the run — sync sinks and alert
//! webhooks: a bounded queue drained by a thread of its own (`queue`), retries with
//! exponential backoff, jitter and a cap (`retry`), and the dead-letter output for what is
//! given up after the retries (`dead_letter`).
//!
//! Decision: the sinks share these pieces rather than each its own copy, so a sync batch and
//! an alert back off, give up and report alike; what differs (what a batch is, how a record
//! is sent, what its dead letter says) stays with each sink.

pub mod dead_letter;
pub mod queue;
pub mod retry;
