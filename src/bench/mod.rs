//! Benchmark harness behind `kvflow bench`: measured runs over a pre-generated input, their
//! statistics, the result files and the plots.
//!
//! - [`run`]: one measured run in this process — throughput, latency per batch (through the
//!   runtime's [`crate::runtime::RunObserver`]), peak RSS, rows out.
//! - [`stats`]: weighted latency quantiles and the median and spread over repeated runs.
//! - [`report`]: `results.jsonl` / `results.csv` (one row per worker count) and `runs.jsonl`
//!   (one row per run).
//! - [`plot`]: throughput against workers and the latency distribution, as SVG.
//!
//! Peak RSS is per run, so each measured run should be a fresh process: the command line
//! starts one child process per run (see `commands/bench.rs`), and [`run::measure`] resets
//! the kernel's high-water mark after the input is generated, so the figure is the run's own
//! peak (input included, and reported apart) rather than the generator's or an earlier run's.
//! In one process, freed memory that the allocator keeps would make later runs look smaller.

pub mod plot;
pub mod report;
pub mod run;
pub mod stats;

/// Errors of the harness.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Run(#[from] crate::runtime::RunError),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot draw {path}: {message}")]
    Plot { path: String, message: String },
    #[error("no runs to report")]
    NoRuns,
}
