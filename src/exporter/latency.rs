//! The end-to-end latency of each batch as Prometheus histograms: from the moment the input
//! opened the batch to the moment every output had passed it (the run's probe frontier), and
//! per pipeline to the moment that pipeline's rows, late rows and errors had passed it (a
//! probe per pipeline). Measured on the reporting worker, which sees the whole dataflow's
//! frontiers (timely merges every worker's progress).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::runtime::observe::RunObserver;

/// The label set of a per-pipeline series.
pub(super) type PipelineLabel = Vec<(String, String)>;
/// Histograms by pipeline.
pub(super) type PipelineHistograms = Family<PipelineLabel, Histogram, fn() -> Histogram>;

/// 1 ms to about 65 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Batches opened and not yet passed by some outputs, and the histogram of those that were.
struct Pending {
    open: Mutex<VecDeque<(u64, Instant)>>,
    histogram: Histogram,
}

impl Pending {
    fn new(histogram: Histogram) -> Pending {
        Pending {
            open: Mutex::new(VecDeque::new()),
            histogram,
        }
    }

    fn opened(&self, stamp: u64, at: Instant) {
        if let Ok(mut open) = self.open.lock() {
            open.push_back((stamp, at));
        }
    }

    fn passed(&self, frontier: Option<u64>, at: Instant) {
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

/// A run's batch latencies, in all and per pipeline.
pub struct BatchLatency {
    run: Pending,
    pipelines: Vec<Pending>,
    by_pipeline: PipelineHistograms,
}

impl BatchLatency {
    /// Latencies of a run whose pipelines are `names`, in plan order.
    pub fn new(names: &[String]) -> BatchLatency {
        let by_pipeline = PipelineHistograms::new_with_constructor(latency_histogram);
        let pipelines = names
            .iter()
            .map(|name| {
                let label = vec![("pipeline".to_string(), name.clone())];
                Pending::new(by_pipeline.get_or_create(&label).clone())
            })
            .collect();
        BatchLatency {
            run: Pending::new(latency_histogram()),
            pipelines,
            by_pipeline,
        }
    }

    /// The run's histogram, to register.
    pub(super) fn histogram(&self) -> Histogram {
        self.run.histogram.clone()
    }

    /// The pipelines' histograms, to register.
    pub(super) fn by_pipeline(&self) -> PipelineHistograms {
        self.by_pipeline.clone()
    }
}

impl RunObserver for BatchLatency {
    fn batch_opened(&self, stamp: u64, _first_seq: u64, at: Instant) {
        self.run.opened(stamp, at);
        for pipeline in &self.pipelines {
            pipeline.opened(stamp, at);
        }
    }

    fn frontier_advanced(&self, frontier: Option<u64>, at: Instant) {
        self.run.passed(frontier, at);
    }

    fn pipeline_advanced(&self, index: usize, frontier: Option<u64>, at: Instant) {
        if let Some(pipeline) = self.pipelines.get(index) {
            pipeline.passed(frontier, at);
        }
    }

    fn wants_pipelines(&self) -> bool {
        !self.pipelines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A batch is observed once the frontier passes its stamp, with the time since it opened.
    #[test]
    fn a_batch_counts_once_the_frontier_passes_it() {
        let latency = BatchLatency::new(&["p".to_string()]);
        let start = Instant::now();
        latency.batch_opened(100, 0, start);
        latency.batch_opened(200, 5, start + Duration::from_millis(10));
        latency.frontier_advanced(Some(100), start + Duration::from_millis(20));
        latency.frontier_advanced(Some(150), start + Duration::from_millis(30));
        latency.frontier_advanced(None, start + Duration::from_millis(50));
        latency.pipeline_advanced(0, Some(150), start + Duration::from_millis(25));
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("t_seconds", "test", latency.histogram());
        registry.register("p_seconds", "test", latency.by_pipeline());
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("t_seconds_count 2"), "{text}");
        // 30 ms for the first, 40 ms for the second.
        assert!(text.contains("t_seconds_sum 0.07"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.032\"} 1"), "{text}");
        // The pipeline passed only the first batch, 25 ms after it opened.
        assert!(text.contains("p_seconds_count{pipeline=\"p\"} 1"), "{text}");
        assert!(
            text.contains("p_seconds_sum{pipeline=\"p\"} 0.025"),
            "{text}"
        );
    }
}
