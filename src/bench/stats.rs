//! The numbers behind a report: latency per batch, its event-weighted quantiles, and the
//! median and spread of a metric over repeated runs. Pure functions, tested here.

use serde::{Deserialize, Serialize};

/// One batch: how long from sending its first event until the outputs closed its time, and
/// how many events it carried (its weight in the distribution).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchLatency {
    pub ms: f64,
    pub events: u64,
}

/// Latency quantiles over events, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Quantiles with each batch weighted by its events; all zero when no event was seen.
    pub fn of(batches: &[BatchLatency]) -> LatencySummary {
        let mut sorted: Vec<BatchLatency> =
            batches.iter().copied().filter(|b| b.events > 0).collect();
        sorted.sort_by(|a, b| a.ms.total_cmp(&b.ms));
        LatencySummary {
            p50_ms: weighted_quantile(&sorted, 0.50),
            p90_ms: weighted_quantile(&sorted, 0.90),
            p99_ms: weighted_quantile(&sorted, 0.99),
            max_ms: sorted.last().map_or(0.0, |b| b.ms),
        }
    }
}

/// The smallest latency at or below which at least `q` of the events lie (`sorted` by ms).
pub fn weighted_quantile(sorted: &[BatchLatency], q: f64) -> f64 {
    let total: u64 = sorted.iter().map(|b| b.events).sum();
    let target = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for batch in sorted {
        seen += batch.events;
        if seen >= target {
            return batch.ms;
        }
    }
    sorted.last().map_or(0.0, |b| b.ms)
}

/// Each batch's latency from the runtime's reports, all times in ms on one clock.
///
/// `opened`: `(stamp, first event number, when sent)` in order; `frontiers`: `(frontier,
/// when)` in order, `None` meaning every time is closed. A batch stamped `s` is closed by the
/// first frontier report above `s`; it holds the events up to the next batch's first.
pub fn batch_latencies(
    opened: &[(u64, u64, f64)],
    frontiers: &[(Option<u64>, f64)],
    total_events: u64,
) -> Vec<BatchLatency> {
    let mut out = Vec::with_capacity(opened.len());
    let mut next_report = 0;
    for (i, &(stamp, first, sent)) in opened.iter().enumerate() {
        let end = opened.get(i + 1).map_or(total_events, |next| next.1);
        let closes = |f: &Option<u64>| f.is_none_or(|f| f > stamp);
        while next_report < frontiers.len() && !closes(&frontiers[next_report].0) {
            next_report += 1;
        }
        let Some(&(_, closed)) = frontiers.get(next_report) else {
            break;
        };
        out.push(BatchLatency {
            ms: (closed - sent).max(0.0),
            events: end.saturating_sub(first),
        });
    }
    out
}

/// A metric over repeated runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The median (mean of the middle two for an even count), minimum and maximum.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let mut values: Vec<f64> = values.into_iter().collect();
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Spread::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Spread {
            median,
            min: values[0],
            max: values[n - 1],
        }
    }

    /// (max - min) / median: the spread relative to the median, 0 when the median is 0.
    pub fn relative(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ms: f64, events: u64) -> BatchLatency {
        BatchLatency { ms, events }
    }

    #[test]
    fn quantiles_weigh_batches_by_events() {
        // 90 events at 1 ms, 9 at 5 ms, 1 at 50 ms.
        let summary = LatencySummary::of(&[batch(5.0, 9), batch(50.0, 1), batch(1.0, 90)]);
        assert_eq!(summary.p50_ms, 1.0);
        assert_eq!(summary.p90_ms, 1.0);
        assert_eq!(summary.p99_ms, 5.0);
        assert_eq!(summary.max_ms, 50.0);
        assert_eq!(LatencySummary::of(&[]), LatencySummary::default());
        // An empty batch does not count, not even for the max.
        assert_eq!(
            LatencySummary::of(&[batch(9.0, 0), batch(2.0, 3)]).max_ms,
            2.0
        );
    }

    #[test]
    fn batches_close_at_the_first_frontier_past_their_stamp() {
        let opened = [(100, 0, 0.0), (200, 10, 2.0), (300, 25, 3.0)];
        let frontiers = [
            (Some(0), 0.5),
            (Some(100), 2.5),
            (Some(250), 4.0),
            (Some(300), 6.0),
            (None, 9.0),
        ];
        assert_eq!(
            batch_latencies(&opened, &frontiers, 30),
            [batch(4.0, 10), batch(2.0, 15), batch(6.0, 5)]
        );
        // A batch never closed (a run cut short) is left out.
        assert_eq!(batch_latencies(&opened, &frontiers[..3], 30).len(), 2);
    }

    #[test]
    fn spread_is_median_min_max() {
        let s = Spread::of([3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of([4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert!((Spread::of([9.0, 11.0, 10.0]).relative() - 0.2).abs() < 1e-12);
        assert_eq!(Spread::of([]), Spread::default());
    }
}
