//! Fixed windows: tumbling and sliding (hopping), epoch-aligned and half-open.

/// Calls `each(start, end)` for every window `[start, end)` of size `size` and slide
/// `slide` that contains `ts` (tumbling: `slide == size`), in increasing order of start.
pub fn for_each_window(ts: u64, size: u64, slide: u64, mut each: impl FnMut(u64, u64)) {
    debug_assert!(size > 0 && slide > 0);
    let last_start = ts - ts % slide;
    // The first window that still contains ts starts after ts - size.
    let mut start = if ts >= size {
        let lowest = ts - size + 1;
        lowest.div_ceil(slide) * slide
    } else {
        0
    };
    while start <= last_start {
        each(start, start + size);
        start += slide;
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
