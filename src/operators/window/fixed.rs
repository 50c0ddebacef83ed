//! Fixed windows: tumbling and sliding (hopping), epoch-aligned and half-open.

/// Calls `each(start, end)` for every window `[start, end)` of size `size` and slide
/// `slide` that contains `ts` (tumbling: `slide == size`), in increasing order of start.
///
/// NB: plans bound `ts`, `size` and `size / slide` (see `plan::bounds`), so nothing here
/// comes near `u64::MAX`; the arithmetic saturates anyway, so no input can make it wrap.
pub fn for_each_window(ts: u64, size: u64, slide: u64, mut each: impl FnMut(u64, u64)) {
    debug_assert!(size > 0 && slide > 0);
    let slide = slide.max(1);
    let last_start = ts - ts % slide;
    // The first window that still contains ts starts after ts - size.
    let mut start = match ts.checked_sub(size) {
        Some(below) => (below + 1).div_ceil(slide).saturating_mul(slide),
        None => 0,
    };
    while start <= last_start {
        each(start, start.saturating_add(size));
        match start.checked_add(slide) {
            Some(next) => start = next,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(ts: u64, size: u64, slide: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for_each_window(ts, size, slide, |s, e| out.push((s, e)));
        out
    }

    #[test]
    fn tumbling_is_half_open() {
        assert_eq!(windows(999, 1000, 1000), vec![(0, 1000)]);
        assert_eq!(windows(1000, 1000, 1000), vec![(1000, 2000)]);
        assert_eq!(windows(0, 1000, 1000), vec![(0, 1000)]);
    }

    #[test]
    fn windows_at_the_end_of_time_do_not_wrap() {
        assert_eq!(windows(u64::MAX, 10, 10), vec![(u64::MAX - 5, u64::MAX)]);
        let last = windows(u64::MAX - 1, 1 << 63, 1 << 62);
        assert_eq!(last.len(), 2);
        assert!(
            last.iter().all(|(s, e)| s < e && *e == u64::MAX),
            "{last:?}"
        );
    }

    #[test]
    fn sliding_matches_brute_force() {
        for (size, slide) in [(2000, 500), (1000, 300), (500, 500), (700, 1000)] {
            for ts in 0..5000 {
                let expected: Vec<(u64, u64)> = (0..=ts / slide)
                    .map(|k| (k * slide, k * slide + size))
                    .filter(|(s, e)| *s <= ts && ts < *e)
                    .collect();
                assert_eq!(
                    windows(ts, size, slide),
                    expected,
                    "ts {ts} size {size} slide {slide}"
                );
            }
        }
    }
}
