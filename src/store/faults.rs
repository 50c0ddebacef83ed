//! Test-only crash points: `KVFLOW_CRASH_AT=<point>:<n>` makes the process abort the n-th
//! time (1-based) it reaches `<point>` — `snapshot` (half-way through writing a snapshot)
//! or `checkpoint` (half-way through writing a checkpoint). Crash tests use it to kill a
//! run inside the writes that must be atomic; unset, it costs one cached lookup.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static REACHED: AtomicU64 = AtomicU64::new(0);

/// The environment variable that arms a crash point.
pub const CRASH_ENV: &str = "KVFLOW_CRASH_AT";

fn target() -> &'static Option<(String, u64)> {
    TARGET.get_or_init(|| {
        let text = std::env::var(CRASH_ENV).ok()?;
        let (point, n) = text.split_once(':')?;
        Some((point.to_string(), n.parse().ok()?))
    })
}

/// Aborts the process if this is the armed point's n-th visit.
pub fn crash_point(point: &str) {
    if let Some((armed, n)) = target()
        && armed == point
        && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        eprintln!("{CRASH_ENV}: aborting at {point} #{n}");
        std::process::abort();
    }
}
