//! Watching a run in wall time: when each batch of input starts to be sent, and when the
//! outputs' frontier passes its time. `kvflow bench` measures latency with it; a run without
//! an observer pays nothing but an `Option` check per batch and per worker step.
//!
//! Only worker 0 reports. Every worker feeds the same batches (see [`super::feed`]), so one
//! worker's view of the batch boundaries is everyone's; and the probe's frontier is global
//! (timely's progress tracking merges every worker's), so worker 0 sees the whole dataflow
//! close a time. The frontier is checked after each of worker 0's steps: a time can only close
//! during a step, so the reported instant is late by at most the rest of that step.

use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::ProbeHandle;

/// Receives a run's progress events (see the module docs).
pub trait RunObserver: Send + Sync {
    /// The input moved to `stamp`; its first event, number `first_seq` (0-based, in input
    /// order), is sent right after this call.
    fn batch_opened(&self, stamp: u64, first_seq: u64, at: Instant);
    /// Every output is complete for all times below `frontier` (`None`: for every time).
    fn frontier_advanced(&self, frontier: Option<u64>, at: Instant);
    /// Pipeline `index` (in plan order) wrote its rows, late rows and errors for all times
    /// below `frontier`. Reported only when the observer asks for it
    /// ([`wants_pipelines`](Self::wants_pipelines)).
    fn pipeline_advanced(&self, _index: usize, _frontier: Option<u64>, _at: Instant) {}
    /// Whether to probe each pipeline's outputs (a probe operator per pipeline).
    fn wants_pipelines(&self) -> bool {
        false
    }
}

/// Two observers told the same: a measured run that also serves its metrics.
pub struct BothObservers(pub Arc<dyn RunObserver>, pub Arc<dyn RunObserver>);

impl RunObserver for BothObservers {
    fn batch_opened(&self, stamp: u64, first_seq: u64, at: Instant) {
        self.0.batch_opened(stamp, first_seq, at);
        self.1.batch_opened(stamp, first_seq, at);
    }

    fn frontier_advanced(&self, frontier: Option<u64>, at: Instant) {
        self.0.frontier_advanced(frontier, at);
        self.1.frontier_advanced(frontier, at);
    }

    fn pipeline_advanced(&self, index: usize, frontier: Option<u64>, at: Instant) {
        self.0.pipeline_advanced(index, frontier, at);
        self.1.pipeline_advanced(index, frontier, at);
    }

    fn wants_pipelines(&self) -> bool {
        self.0.wants_pipelines() || self.1.wants_pipelines()
    }
}

/// Reports changes of a probe's frontier, and of each pipeline's, to an observer.
pub(super) struct FrontierWatch {
    observer: Arc<dyn RunObserver>,
    last: Option<Option<u64>>,
    /// Each pipeline's probe and the frontier last reported for it.
    pipelines: Vec<(ProbeHandle<u64>, Option<Option<u64>>)>,
}

impl FrontierWatch {
    /// A watch for worker `index`, when the run has an observer and this worker reports;
    /// `pipelines` are the pipelines' probes (empty unless the observer wants them).
    pub fn for_worker(
        observer: Option<&Arc<dyn RunObserver>>,
        index: usize,
        pipelines: Vec<ProbeHandle<u64>>,
    ) -> Option<Self> {
        let observer = observer.filter(|_| index == 0)?;
        Some(FrontierWatch {
            observer: observer.clone(),
            last: None,
            pipelines: pipelines.into_iter().map(|p| (p, None)).collect(),
        })
    }

    pub fn batch_opened(&self, stamp: u64, first_seq: u64) {
        self.observer.batch_opened(stamp, first_seq, Instant::now());
    }

    /// Reports the probe's frontier if it moved since the last check.
    pub fn check(&mut self, probe: &ProbeHandle<u64>) {
        let frontier = probe.with_frontier(|f| f.iter().min().copied());
        if self.last != Some(frontier) {
            self.last = Some(frontier);
            self.observer.frontier_advanced(frontier, Instant::now());
        }
        for (index, (probe, last)) in self.pipelines.iter_mut().enumerate() {
            let frontier = probe.with_frontier(|f| f.iter().min().copied());
            if *last != Some(frontier) {
                *last = Some(frontier);
                self.observer
                    .pipeline_advanced(index, frontier, Instant::now());
            }
        }
    }
}
