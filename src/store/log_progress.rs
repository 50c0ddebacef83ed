//! How far a live input is in the shard logs: what a server may acknowledge.
//!
//! A server applies a write to its keyspace at once, but may only answer `+OK` once the
//! write is in the log under the fsync policy (DESIGN §9). Writes reach the log through the
//! dataflow: the feed hands each one to the shard that owns its key, and the shard logs a
//! whole batch with one commit. [`LogProgress`] joins the two ends:
//!
//! - the feed calls [`sent`](LogProgress::sent) with each write's `seq` and owning shard
//!   before it hands the writes over, in seq order;
//! - a shard calls [`logged`](LogProgress::logged) after each successful commit with the
//!   largest seq the commit covered (a shard logs its writes in the order it received them,
//!   which is seq order, so that seq covers all its earlier ones), or
//!   [`failed`](LogProgress::failed) when the commit failed;
//! - the server reads [`logged_before`](LogProgress::logged_before): every seq below it is in
//!   the log, and replies to writes below it may go out. The listener set with
//!   [`on_change`](LogProgress::on_change) is called whenever that point moves or a shard's
//!   health changes, so the server's event loops wake to release replies.
//!
//! Decision — the writes in flight are a queue of `(seq, shard)` in seq order, and the
//! acknowledged point is the front of that queue: a write is acknowledged once it and every
//! write before it are logged, whichever shard owns them. That is the order clients observe
//! (a later write is never acknowledged while an earlier one could still be lost), and costs
//! a queue push per write and a pop per logged write, under a lock taken once per batch.
//!
//! A failed commit keeps its records buffered in the shard's log writer and is retried; while
//! any shard is failing, [`error`](LogProgress::error) says why, the server answers the writes
//! that wait with an error and refuses new ones, and once the retry succeeds the point moves
//! on and writes are taken again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

type Listener = Box<dyn Fn() + Send + Sync>;

/// The shared record of what the shard logs hold (see the module doc).
pub struct LogProgress {
    state: Mutex<State>,
    logged_before: AtomicU64,
    failing: AtomicBool,
    listener: OnceLock<Listener>,
}

struct State {
    /// Writes handed to the shards and not yet known to be logged, in seq order.
    in_flight: VecDeque<(u64, usize)>,
    /// The seq after the last write handed over.
    next_seq: u64,
    /// Per shard: the largest seq it has logged.
    logged: Vec<Option<u64>>,
    /// Per shard: why its last commit failed, while it fails.
    errors: Vec<Option<String>>,
}

impl State {
    fn logged_before(&self) -> u64 {
        self.in_flight
            .front()
            .map_or(self.next_seq, |&(seq, _)| seq)
    }

    fn pop_logged(&mut self) {
        while let Some(&(seq, shard)) = self.in_flight.front() {
            if self.logged.get(shard).copied().flatten() < Some(seq) {
                break;
            }
            self.in_flight.pop_front();
        }
    }
}

impl LogProgress {
    /// Progress of `shards` logs whose next write will have seq `next_seq`.
    pub fn new(shards: usize, next_seq: u64) -> LogProgress {
        LogProgress {
            state: Mutex::new(State {
                in_flight: VecDeque::new(),
                next_seq,
                logged: vec![None; shards.max(1)],
                errors: vec![None; shards.max(1)],
            }),
            logged_before: AtomicU64::new(next_seq),
            failing: AtomicBool::new(false),
            listener: OnceLock::new(),
        }
    }

    /// Calls `listener` whenever the logged point moves or a shard's health changes (from
    /// the workers' threads; it must be cheap and must not block).
    pub fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) {
        let _ = self.listener.set(Box::new(listener));
    }

    /// Every write with a seq below this is in the log.
    pub fn logged_before(&self) -> u64 {
        self.logged_before.load(Ordering::Acquire)
    }

    /// Why a shard cannot write its log, while one cannot.
    pub fn error(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state.lock().ok()?;
        state.errors.iter().flatten().next().cloned()
    }

    /// Writes about to be handed to their shards: `(seq, shard)` in seq order.
    pub fn sent(&self, writes: impl IntoIterator<Item = (u64, usize)>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        for (seq, shard) in writes {
            state.in_flight.push_back((seq, shard));
            state.next_seq = state.next_seq.max(seq + 1);
        }
    }

    /// Shard `shard` committed every write it received up to `seq`.
    pub fn logged(&self, shard: usize, seq: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(slot) = state.logged.get_mut(shard) {
            *slot = (*slot).max(Some(seq));
        }
        let recovered = state.errors.get_mut(shard).and_then(Option::take).is_some();
        if recovered {
            eprintln!("shard {shard} writes its log again");
        }
        state.pop_logged();
        let before = state.logged_before();
        let failing = state.errors.iter().any(Option::is_some);
        drop(state);
        self.failing.store(failing, Ordering::Release);
        let moved = self.logged_before.fetch_max(before, Ordering::AcqRel) < before;
        if moved || recovered {
            self.notify();
        }
    }

    /// Shard `shard` could not commit: its writes wait, and the server refuses new ones.
    pub fn failed(&self, shard: usize, message: String) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let first = match state.errors.get_mut(shard) {
            Some(slot) => slot.replace(message.clone()).is_none(),
            None => false,
        };
        drop(state);
        self.failing.store(true, Ordering::Release);
        if first {
            eprintln!(
                "error: shard {shard} cannot write its log ({message}); writes are refused \
                 until it can"
            );
            self.notify();
        }
    }

    fn notify(&self) {
        if let Some(listener) = self.listener.get() {
            listener();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_logged_once_it_and_every_earlier_one_are() {
        let progress = LogProgress::new(2, 10);
        assert_eq!(progress.logged_before(), 10);
        progress.sent([(10, 0), (11, 1), (12, 0)]);
        assert_eq!(progress.logged_before(), 10);
        progress.logged(0, 12);
        assert_eq!(
            progress.logged_before(),
            11,
            "seq 11 of shard 1 is not logged yet"
        );
        progress.logged(1, 11);
        assert_eq!(progress.logged_before(), 13);
    }

    #[test]
    fn a_failing_shard_holds_its_writes_until_a_retry_succeeds() {
        let progress = LogProgress::new(1, 0);
        let calls = std::sync::Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        progress.on_change(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        progress.sent([(0, 0), (1, 0)]);
        progress.failed(0, "No space left on device".into());
        progress.failed(0, "No space left on device".into());
        assert_eq!(progress.error().as_deref(), Some("No space left on device"));
        assert_eq!(progress.logged_before(), 0);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "told once per failure burst"
        );
        progress.logged(0, 1);
        assert_eq!(progress.error(), None);
        assert_eq!(progress.logged_before(), 2);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
