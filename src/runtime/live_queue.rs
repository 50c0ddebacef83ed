//! A live input: mutations handed over by a server while the dataflow runs.
//!
//! The server applies each write to its keyspace, gives it the next `seq` and an event time,
//! and pushes whole groups of writes ([`LiveQueue::push`], one call per pipelined request,
//! never one per command) into a shared queue. Worker 0 drains everything queued in one
//! go, so a burst of writes becomes one timely batch (group commit to the WAL) and a quiet
//! period costs nothing.
//!
//! Decisions:
//! - **Time moves with the clock, not only with writes.** When the queue is empty the feed
//!   observes the ingest clock as if an event arrived now, so the watermark — and with it
//!   every window — advances without new writes; a window closes at most one tick after its
//!   end. The server stamps writes with the same clock (never going backwards), so a write
//!   is never late because of a tick.
//! - **Back-pressure.** The queue holds at most `capacity` mutations; a server thread that
//!   finds it fuller waits ([`LiveQueue::wait_for_room`]) outside its locks, so a slow
//!   dataflow slows the writers instead of growing memory.
//! - **Wake-ups.** The worker parks when idle and a push unparks it, so the latency from a
//!   write to its batch is a thread wake-up, not a polling interval.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use crate::change::Mutation;

/// One write: its position in the server's history and the mutation (with `ts` set).
pub type LiveItem = (u64, Mutation);

/// Where the feed starts: the first seq and timeline it continues from.
#[derive(Default)]
struct QueueState {
    batches: VecDeque<Vec<LiveItem>>,
    queued: usize,
    closed: bool,
}

/// The hand-over point between a server and the dataflow's feed.
pub struct LiveQueue {
    state: Mutex<QueueState>,
    room: Condvar,
    capacity: usize,
    worker: OnceLock<Thread>,
    /// How often time advances without writes.
    pub tick: Duration,
}

impl LiveQueue {
    pub fn new(capacity: usize, tick: Duration) -> LiveQueue {
        LiveQueue {
            state: Mutex::new(QueueState::default()),
            room: Condvar::new(),
            capacity: capacity.max(1),
            worker: OnceLock::new(),
            tick,
        }
    }

    /// Queues a group of writes (in seq order) and wakes the feed.
    pub fn push(&self, batch: Vec<LiveItem>) {
        if batch.is_empty() {
            return;
        }
        if let Ok(mut state) = self.state.lock() {
            state.queued += batch.len();
            state.batches.push_back(batch);
        }
        self.wake();
    }

    /// Blocks while the queue holds more than its capacity (call without other locks held).
    pub fn wait_for_room(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        while state.queued > self.capacity && !state.closed {
            self.wake();
            match self.room.wait_timeout(state, Duration::from_millis(50)) {
                Ok((next, _)) => state = next,
                Err(_) => return,
            }
        }
    }

    /// No more writes: the feed sends what is queued and ends the input.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.room.notify_all();
        self.wake();
    }

    /// How many writes wait for the dataflow.
    pub fn queued(&self) -> usize {
        self.state.lock().map(|s| s.queued).unwrap_or(0)
    }

    fn wake(&self) {
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    /// Called by the feeding worker: later pushes unpark this thread.
    pub(super) fn attach_worker(&self) {
        let _ = self.worker.set(std::thread::current());
    }

    /// Takes everything queued; `None` once closed and drained.
    pub(super) fn drain(&self) -> Option<Vec<Vec<LiveItem>>> {
        let mut state = self.state.lock().ok()?;
        if state.batches.is_empty() {
            return if state.closed { None } else { Some(Vec::new()) };
        }
        state.queued = 0;
        let batches = state.batches.drain(..).collect();
        drop(state);
        self.room.notify_all();
        Some(batches)
    }
}
