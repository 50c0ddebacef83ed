//! The timeline: event time is data, the timely timestamp is the watermark (DESIGN §3).
//!
//! The input is cut into batches. A batch is stamped with the watermark at its start and the
//! input then advances to the new watermark, so timely's frontier *is* the watermark and its
//! progress tracking carries it to every operator, worker and process.
//!
//! Lateness is decided per event against the exact watermark before it, not against its
//! batch's stamp: an event is late for a pipeline when `ts + max_out_of_orderness +
//! allowed_lateness < max ts seen before it`. That is a function of the input order alone, so
//! which events are late does not depend on the batch size or the number of workers; and an
//! event that is not late always reaches its window before the window closes (its batch's
//! stamp is at most that exact watermark).
//!
//! Decision — **the range of event time.** `ts` is `0..=`[`MAX_EVENT_TS`] ms, the Unix epoch
//! through 9999-12-31T23:59:59.999Z (ISO-8601's four-digit years). Input outside it is
//! refused where it is read (a bad line with its line number, see `source::jsonl`), and
//! window sizes, slides, gaps and allowed lateness are held to the same bound (see
//! `plan::node::check_window`). Every time the engine derives — a window's end, its emit and
//! expiry times, `ts + size + allowed_lateness + 2` — then stays below 2^53: exact as an
//! `i64` in rows and as a JSON number in any reader (JavaScript, jq), and no arithmetic on
//! it can wrap. Times derived at run time from other data (a `map` that computes `ts`) are
//! checked again where a window reads them; all window arithmetic saturates besides.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest event time accepted: 9999-12-31T23:59:59.999Z, in ms since the epoch.
pub const MAX_EVENT_TS: u64 = 253_402_300_799_999;

/// The range of event time, as error messages state it.
pub fn event_time_range() -> String {
    format!("0..={MAX_EVENT_TS} ms (the epoch through 9999-12-31T23:59:59.999Z)")
}

/// An event time (or a time derived from one) as a row value, saturating instead of
/// wrapping to a negative number for a time past `i64::MAX`.
pub fn time_value(ms: u64) -> crate::value::Value {
    crate::value::Value::Int(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// The ingest clock, for mutations that carry no `ts`. Injected so tests are deterministic.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start_ms: u64) -> ManualClock {
        ManualClock(AtomicU64::new(start_ms))
    }

    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Tracks the largest event time seen and decides batch boundaries.
///
/// A batch closes at the first event that finds both: the watermark at least `batch_ms` past
/// the batch's stamp, and at least `batch_events` events already in the batch. Both are
/// functions of the input order alone, so every worker that observes the same events cuts at
/// the same events, and a run resumed from a checkpoint (always taken at a boundary) cuts
/// where the first run did.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The watermark lags the largest ts by this much (the sources' out-of-orderness).
    lag: u64,
    /// A new batch starts once the watermark is this far past the current stamp.
    batch_ms: u64,
    /// ... and the current batch holds at least this many events.
    batch_events: u64,
    /// Events observed since the current batch opened.
    in_batch: u64,
    max_seen: u64,
    stamp: u64,
}

/// What observing one event did to the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The largest ts seen before this event (for the lateness test).
    pub max_seen_before: u64,
    /// `Some(new stamp)` when this event starts a new batch.
    pub new_batch: Option<u64>,
}

impl Timeline {
    pub fn new(lag: u64, batch_ms: u64) -> Timeline {
        Timeline {
            lag,
            batch_ms: batch_ms.max(1),
            batch_events: 0,
            in_batch: 0,
            max_seen: 0,
            stamp: 0,
        }
    }

    /// The same timeline, closing a batch only once it holds at least `events` events.
    pub fn with_batch_events(self, events: u64) -> Timeline {
        Timeline {
            batch_events: events,
            ..self
        }
    }

    /// A timeline that continues from a recorded state (a resumed run). The state was
    /// recorded at a boundary, where the batch before was full: the first event may cut.
    pub fn resume(self, max_seen: u64, stamp: u64) -> Timeline {
        Timeline {
            max_seen,
            stamp,
            in_batch: self.batch_events,
            ..self
        }
    }

    /// The largest event time seen so far.
    pub fn max_seen(&self) -> u64 {
        self.max_seen
    }

    /// The current batch's timely timestamp.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    pub fn watermark(&self) -> u64 {
        self.max_seen.saturating_sub(self.lag)
    }

    /// Observes an event's ts (before it is sent).
    pub fn observe(&mut self, ts: u64) -> Observed {
        let max_seen_before = self.max_seen;
        self.max_seen = self.max_seen.max(ts);
        let watermark = self.watermark();
        let new_batch = if watermark >= self.stamp.saturating_add(self.batch_ms)
            && self.in_batch >= self.batch_events
        {
            self.stamp = watermark;
            self.in_batch = 0;
            Some(watermark)
        } else {
            None
        };
        self.in_batch += 1;
        Observed {
            max_seen_before,
            new_batch,
        }
    }
}

/// Whether an event is late for a pipeline whose bound is `max_out_of_orderness +
/// allowed_lateness` (see the module doc).
pub fn is_late(ts: u64, bound: u64, max_seen_before: u64) -> bool {
    ts.saturating_add(bound) < max_seen_before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_start_when_the_watermark_moves_far_enough() {
        let mut timeline = Timeline::new(200, 100);
        assert_eq!(timeline.observe(1000).new_batch, Some(800));
        assert_eq!(timeline.observe(1050).new_batch, None);
        let seen = timeline.observe(990);
        assert_eq!(seen.max_seen_before, 1050);
        assert_eq!(seen.new_batch, None);
        assert_eq!(timeline.observe(1100).new_batch, Some(900));
        assert_eq!(timeline.stamp(), 900);
    }

    #[test]
    fn a_batch_closes_only_once_it_holds_enough_events() {
        let mut timeline = Timeline::new(0, 100).with_batch_events(3);
        assert_eq!(timeline.observe(0).new_batch, None);
        assert_eq!(timeline.observe(500).new_batch, None);
        assert_eq!(timeline.observe(600).new_batch, None);
        // Three events in the batch and the watermark 700 ms past its stamp.
        assert_eq!(timeline.observe(700).new_batch, Some(700));
        assert_eq!(timeline.observe(900).new_batch, None);
        let mut resumed = Timeline::new(0, 100).with_batch_events(3).resume(600, 0);
        assert_eq!(resumed.observe(700).new_batch, Some(700));
    }

    #[test]
    fn lateness_uses_the_exact_watermark() {
        assert!(!is_late(800, 200, 1000));
        assert!(is_late(799, 200, 1000));
    }
}
