//! The bounds of a window's parameters, checked when a plan is made (`kvflow check`).
//!
//! Decisions:
//! - **Size, slide, gap and allowed lateness are at most [`MAX_WINDOW_MS`]**, the width of
//!   the event-time range (see `change::time`). With event times bounded the same way, a
//!   window's end `start + size`, its emit and expiry times (`end + allowed_lateness + 2`)
//!   and a session's end `last + gap` all stay below 2^53, so they can neither wrap nor lose
//!   precision in a JSON reader.
//! - **A sliding window puts each event in at most [`MAX_WINDOWS_PER_EVENT`] windows**
//!   (`size / slide`, rounded up). Every event costs a contribution and a release per window
//!   it belongs to, so `size = 1000000000, slide = 1` would make a billion updates out of the
//!   first event and exhaust memory; 1000 windows per event is already a thousandfold
//!   amplification of the input. A wider view with a fine slide is better served by a
//!   tumbling window of the slide and an aggregate over its rows.

use crate::change::time::MAX_EVENT_TS;

use super::WindowKind;

/// The largest window size, slide, gap or allowed lateness, in ms.
pub const MAX_WINDOW_MS: u64 = MAX_EVENT_TS;

/// The most windows of a sliding window that one event may belong to.
pub const MAX_WINDOWS_PER_EVENT: u64 = 1000;

/// A window parameter out of bounds: which one (`size`, `slide`, `gap`,
/// `allowed_lateness`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowBoundError {
    pub param: &'static str,
    pub message: String,
}

/// Checks a window's parameters against the bounds above.
pub fn check_window(kind: WindowKind, allowed_lateness: u64) -> Result<(), WindowBoundError> {
    let mut params = match kind {
        WindowKind::Tumbling { size } => vec![("size", size)],
        WindowKind::Sliding { size, slide } => vec![("size", size), ("slide", slide)],
        WindowKind::Session { gap } => vec![("gap", gap)],
    };
    params.push(("allowed_lateness", allowed_lateness));
    for (param, value) in params {
        if value > MAX_WINDOW_MS {
            return Err(WindowBoundError {
                param,
                message: format!(
                    "window {param} {value} is too large: at most {MAX_WINDOW_MS} ms (the \
                     range of event time, through the year 9999)"
                ),
            });
        }
    }
    if let WindowKind::Sliding { size, slide } = kind {
        let windows = size.div_ceil(slide.max(1));
        if windows > MAX_WINDOWS_PER_EVENT {
            return Err(WindowBoundError {
                param: "slide",
                message: format!(
                    "a sliding window of size {size} and slide {slide} puts every event in \
                     {windows} windows; at most {MAX_WINDOWS_PER_EVENT} are allowed \
                     (size / slide <= {MAX_WINDOWS_PER_EVENT}): raise `slide` or lower `size`"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(kind: WindowKind, lateness: u64) -> Option<&'static str> {
        check_window(kind, lateness).err().map(|e| e.param)
    }

    #[test]
    fn windows_within_bounds_pass() {
        let max = MAX_WINDOW_MS;
        assert_eq!(param(WindowKind::Tumbling { size: max }, max), None);
        assert_eq!(param(WindowKind::Session { gap: max }, 0), None);
        let sliding = |size, slide| WindowKind::Sliding { size, slide };
        assert_eq!(param(sliding(1000, 1), 0), None);
        assert_eq!(param(sliding(1000, 3000), 0), None);
        assert_eq!(param(sliding(max, max / 1000 + 1), 0), None);
    }

    #[test]
    fn each_parameter_out_of_bounds_is_named() {
        let big = MAX_WINDOW_MS + 1;
        assert_eq!(param(WindowKind::Tumbling { size: big }, 0), Some("size"));
        assert_eq!(param(WindowKind::Session { gap: u64::MAX }, 0), Some("gap"));
        assert_eq!(
            param(WindowKind::Tumbling { size: 10 }, big),
            Some("allowed_lateness")
        );
        let sliding = |size, slide| WindowKind::Sliding { size, slide };
        assert_eq!(param(sliding(10, big), 0), Some("slide"));
        assert_eq!(param(sliding(1001, 1), 0), Some("slide"));
        let error = check_window(sliding(1_000_000_000, 1), 0).unwrap_err();
        assert!(
            error
                .message
                .contains("puts every event in 1000000000 windows; at most 1000"),
            "{}",
            error.message
        );
    }
}
