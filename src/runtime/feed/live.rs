//! Feeding a [`LiveQueue`] (see `runtime::live_queue`): worker 0 drains the queue, stamps each
//! write on the shared timeline, and advances time by the clock when writes pause.

use std::time::{Duration, Instant};

use super::Feeder;
use crate::runtime::RunError;
use crate::runtime::durable::FeedPosition;
use crate::runtime::live_queue::{LiveItem, LiveQueue};
use crate::store::{Ingest, owner_of};

/// How long the feed sleeps between looks at the clock while a time holds writes: the time
/// closes (and its rows appear) at the first look after the clock passed its millisecond.
const CLOSE_AFTER: Duration = Duration::from_micros(200);

impl Feeder<'_, '_> {
    /// Feeds writes from `queue` until it is closed and drained (worker 0 only; the exchange
    /// into the store routes each write to its owner).
    pub(super) fn feed_live(&mut self, queue: &LiveQueue) -> Result<(), RunError> {
        if self.worker.index() != 0 {
            return Ok(());
        }
        self.source_name = "server".into();
        self.owner_index = None;
        queue.attach_worker();
        let mut previous_stamp = self.timeline.stamp();
        let mut open_writes = false;
        let mut next_tick = Instant::now() + queue.tick;
        let progress = self
            .options
            .durable
            .as_ref()
            .and_then(|d| d.log_progress().cloned());
        let peers = self.worker.peers();
        while let Some(batches) = queue.drain() {
            let idle = batches.is_empty();
            for batch in batches {
                if let Some(progress) = &progress {
                    progress.sent(batch.iter().map(|(seq, m)| (*seq, owner_of(&m.key, peers))));
                }
                for item in batch {
                    self.send_live(item, &mut previous_stamp)?;
                    open_writes = true;
                }
            }
            if !idle {
                // NB: the writes reach their shards now, not when their time closes: the
                // server answers them once they are logged.
                self.handle.flush();
            }
            let now = Instant::now();
            if open_writes || now >= next_tick {
                let clock = self.options.clock.now_ms();
                if self.advance_live(clock, &mut previous_stamp)? {
                    open_writes = false;
                }
                next_tick = now + queue.tick;
            }
            if idle {
                let wait = if open_writes { CLOSE_AFTER } else { queue.tick };
                self.worker.step_or_park(Some(wait));
                self.after_step();
            } else {
                self.step();
            }
        }
        Ok(())
    }

    fn send_live(&mut self, (seq, mutation): LiveItem, previous: &mut u64) -> Result<(), RunError> {
        let ts = mutation.ts.unwrap_or_else(|| self.options.clock.now_ms());
        let max_seen = self.timeline.max_seen();
        self.advance_live(ts, previous)?;
        self.metrics
            .events_in
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.last_seq = Some(seq);
        self.since_checkpoint += 1;
        self.handle
            .send(Ingest::by_key(seq, max_seen, ts, mutation));
        Ok(())
    }

    /// Observes `ts` on the timeline; when that opens a new batch, advances the input (and
    /// takes a checkpoint when one is due). Returns whether the input advanced.
    fn advance_live(&mut self, ts: u64, previous: &mut u64) -> Result<bool, RunError> {
        let observed = self.timeline.observe(ts);
        let Some(stamp) = observed.new_batch else {
            return Ok(false);
        };
        self.handle.advance_to(stamp);
        let position = FeedPosition {
            next_seq: self.last_seq.map_or(self.skip_before, |s| s + 1),
            max_seen: observed.max_seen_before,
            stamp: *previous,
        };
        if let Some(watch) = &self.watch {
            watch.batch_opened(stamp, position.next_seq);
        }
        self.metrics
            .note_batch(stamp, observed.max_seen_before.max(ts));
        self.at_batch_boundary(position, stamp)?;
        *previous = stamp;
        Ok(true)
    }
}
