//! The summary a run prints, read from its counters (`assemble::counters`).

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use crate::assemble::counters::{Metrics, PipelineCounters};

impl Metrics {
    /// What the counters say now, for the end of a run.
    pub fn summary(&self, elapsed: Duration) -> RunSummary {
        RunSummary {
            events_in: self.events_in.load(Ordering::Relaxed),
            bad_lines: self.bad_lines.load(Ordering::Relaxed),
            missing_deletes: self.missing_deletes.load(Ordering::Relaxed),
            elapsed,
            pipelines: self
                .names
                .iter()
                .zip(&self.pipelines)
                .map(|(name, c)| PipelineStats {
                    name: name.clone(),
                    rows: c.rows.load(Ordering::Relaxed),
                    late: c.late.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineStats {
    pub name: String,
    pub rows: u64,
    pub late: u64,
    pub errors: u64,
}

/// What a run did, for the summary on stderr.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub events_in: u64,
    pub bad_lines: u64,
    pub missing_deletes: u64,
    pub elapsed: Duration,
    pub pipelines: Vec<PipelineStats>,
}

impl RunSummary {
    pub fn events_per_second(&self) -> f64 {
        self.events_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn pipeline(&self, name: &str) -> Option<&PipelineStats> {
        self.pipelines.iter().find(|p| p.name == name)
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "events in: {} in {:.3}s ({:.0} events/s); bad lines: {}; deletes of missing keys: {}",
            self.events_in,
            self.elapsed.as_secs_f64(),
            self.events_per_second(),
            self.bad_lines,
            self.missing_deletes
        )?;
        for p in &self.pipelines {
            writeln!(
                f,
                "  {}: rows out {}, late {}, errors {}",
                p.name, p.rows, p.late, p.errors
            )?;
        }
        Ok(())
    }
}
