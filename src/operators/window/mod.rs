//! Window management, written once for every window kind.
//!
//! A window kind only decides which windows a row belongs to: fixed windows (tumbling and
//! sliding) by arithmetic on its `ts` ([`fixed`]), sessions by the other rows of its group
//! ([`session`], a stateful operator). Everything else is shared and lives here:
//!
//! - **when a window's rows appear**: `final` emission stamps a contribution at
//!   `max(t, emit_time)`, so the aggregate first shows when the frontier passes the window's
//!   end; `continuous` stamps it at its batch time `t`, so every change shows;
//! - **when its state is released**: every contribution is retracted again at
//!   `max(t, expire_time)`, one past the end plus the allowed lateness. Arrangements then hold
//!   only open windows, and the output drops updates at or after `expire_time` (they are
//!   releases, not retractions a user should see);
//! - **corrections**: a late row within the allowed lateness arrives at `t < expire_time` and
//!   changes an emitted aggregate at `t`, which the sink shows as an upsert.
//!
//! A session `[first, last + gap)` can still grow while an event at `ts = end` may arrive (a
//! difference of exactly `gap` merges), so it is emitted at `end + 1` and released one later.
pub mod fixed;
pub mod future;
pub mod session;

use crate::change::time::{MAX_EVENT_TS, event_time_range};
use crate::plan::{Emission, WindowDef, WindowKind};
use crate::value::Value;

/// The event time a window reads from a row's `ts`: an integer within the range of event
/// time (see `change::time`). A `ts` computed out of that range is the record's error, so
/// window arithmetic never sees it.
pub fn window_ts(value: &Value) -> Result<u64, String> {
    match value {
        Value::Int(ts) if (0..=MAX_EVENT_TS as i64).contains(ts) => Ok(*ts as u64),
        Value::Int(ts) if *ts > 0 => Err(format!(
            "window needs ts within {}, got {ts}",
            event_time_range()
        )),
        other => Err(format!(
            "window needs a non-negative integer ts, got {}",
            other.type_name()
        )),
    }
}

/// When contributions to a window of a given end become visible and are released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowTiming {
    pub emission: Emission,
    pub allowed_lateness: u64,
    /// Sessions close one millisecond later than fixed windows (see the module doc).
    pub closes_after_end: bool,
}

impl WindowTiming {
    pub fn of(def: &WindowDef) -> WindowTiming {
        WindowTiming {
            emission: def.emission,
            allowed_lateness: def.allowed_lateness,
            closes_after_end: matches!(def.kind, WindowKind::Session { .. }),
        }
    }

    /// The time at which a window ending at `end` first emits in `final` mode.
    pub fn emit_time(&self, end: u64) -> u64 {
        end.saturating_add(u64::from(self.closes_after_end))
    }

    /// The time at which a window's state is released.
    pub fn expire_time(&self, end: u64) -> u64 {
        self.emit_time(end)
            .saturating_add(self.allowed_lateness)
            .saturating_add(1)
    }

    /// The times at which a contribution arriving at `t` is inserted and retracted.
    pub fn contribution_times(&self, t: u64, end: u64) -> (u64, u64) {
        let insert = match self.emission {
            Emission::Final => t.max(self.emit_time(end)),
            Emission::Continuous => t,
        };
        (insert, t.max(self.expire_time(end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ts_is_within_the_range_of_event_time() {
        assert_eq!(window_ts(&Value::Int(0)), Ok(0));
        assert_eq!(
            window_ts(&Value::Int(MAX_EVENT_TS as i64)),
            Ok(MAX_EVENT_TS)
        );
        let error = window_ts(&Value::Int(i64::MAX)).unwrap_err();
        assert!(error.starts_with("window needs ts within 0..=253402300799999 ms"));
        assert_eq!(
            window_ts(&Value::Int(-1)).unwrap_err(),
            "window needs a non-negative integer ts, got int"
        );
    }

    #[test]
    fn final_windows_emit_at_end_and_release_after_lateness() {
        let timing = WindowTiming {
            emission: Emission::Final,
            allowed_lateness: 100,
            closes_after_end: false,
        };
        assert_eq!(timing.contribution_times(500, 1000), (1000, 1101));
        assert_eq!(timing.contribution_times(1050, 1000), (1050, 1101));
        let session = WindowTiming {
            closes_after_end: true,
            ..timing
        };
        assert_eq!(session.contribution_times(500, 1000), (1001, 1102));
    }
}
