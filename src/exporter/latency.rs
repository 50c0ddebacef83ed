//! The end-to-end latency of each batch as a Prometheus histogram: from the moment the input
//! opened the batch to the moment every output had passed it (the run's probe frontier).
//! Measured on the reporting worker, which sees the whole dataflow's frontier, so one
//! histogram covers the run; per-pipeline latencies would need a probe per pipeline.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::runtime::observe::RunObserver;

/// Batches opened and not yet passed by every output, and the histogram of those that were.
pub struct BatchLatency {
    open: Mutex<VecDeque<(u64, Instant)>>,
    histogram: Histogram,
}

impl Default for BatchLatency {
    fn default() -> BatchLatency {
        BatchLatency {
            open: Mutex::new(VecDeque::new()),
            // 1 ms to about 65 s.
            histogram: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
        }
    }
}

impl BatchLatency {
    /// The histogram, to register.
    pub(super) fn histogram(&self) -> Histogram {
        self.histogram.clone()
    }
}

impl RunObserver for BatchLatency {
    fn batch_opened(&self, stamp: u64, _first_seq: u64, at: Instant) {
        if let Ok(mut open) = self.open.lock() {
            open.push_back((stamp, at));
        }
    }

    fn frontier_advanced(&self, frontier: Option<u64>, at: Instant) {
        let Ok(mut open) = self.open.lock() else {
            return;
        };
        while let Some(&(stamp, opened)) = open.front() {
            if frontier.is_some_and(|f| stamp >= f) {
                break;
            }
            open.pop_front();
            let seconds = at.saturating_duration_since(opened).as_secs_f64();
            self.histogram.observe(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A batch is observed once the frontier passes its stamp, with the time since it opened.
    #[test]
    fn a_batch_counts_once_the_frontier_passes_it() {
        let latency = BatchLatency::default();
        let start = Instant::now();
        latency.batch_opened(100, 0, start);
        latency.batch_opened(200, 5, start + Duration::from_millis(10));
        latency.frontier_advanced(Some(100), start + Duration::from_millis(20));
        latency.frontier_advanced(Some(150), start + Duration::from_millis(30));
        latency.frontier_advanced(None, start + Duration::from_millis(50));
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("t_seconds", "test", latency.histogram());
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("t_seconds_count 2"), "{text}");
        // 30 ms for the first, 40 ms for the second.
        assert!(text.contains("t_seconds_sum 0.07"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.032\"} 1"), "{text}");
    }
}
