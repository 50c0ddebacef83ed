//! Result files: `results.jsonl` and `results.csv` hold one row per worker count (the median
//! and spread over the repeated runs); `runs.jsonl` holds every run as measured, with its
//! per-batch latencies, so any other statistic can be recomputed.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::BenchError;
use super::run::Measurement;
use super::stats::Spread;

/// What was run: the dataflow and its input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The dataflow file's stem, e.g. `q5`.
    pub query: String,
    pub workload: String,
    pub events: u64,
    pub batch_ms: u64,
}

/// One row of `results.jsonl` / `results.csv`: one worker count over its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub query: String,
    pub workload: String,
    pub events: u64,
    pub batch_ms: u64,
    pub workers: usize,
    pub runs: usize,
    pub events_per_s: f64,
    pub events_per_s_min: f64,
    pub events_per_s_max: f64,
    pub events_per_s_per_worker: f64,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Empty (CSV) / null (JSON) where the platform does not report it.
    pub peak_rss_mb: Option<f64>,
    pub input_rss_mb: Option<f64>,
    pub rows_out: u64,
    pub late: u64,
    pub errors: u64,
}

/// Groups runs by worker count (in first-seen order) and summarises each group.
pub fn summarise(setup: &Setup, runs: &[Measurement]) -> Vec<ResultRow> {
    let mut workers: Vec<usize> = Vec::new();
    for run in runs {
        if !workers.contains(&run.workers) {
            workers.push(run.workers);
        }
    }
    workers
        .into_iter()
        .map(|w| {
            let group: Vec<&Measurement> = runs.iter().filter(|r| r.workers == w).collect();
            row(setup, w, &group)
        })
        .collect()
}

fn row(setup: &Setup, workers: usize, runs: &[&Measurement]) -> ResultRow {
    let median = |f: &dyn Fn(&Measurement) -> f64| Spread::of(runs.iter().map(|r| f(r))).median;
    let mb = |bytes: Option<u64>| bytes.map(|b| b as f64 / (1024.0 * 1024.0));
    let rss = |f: &dyn Fn(&Measurement) -> Option<u64>| {
        let values: Option<Vec<f64>> = runs.iter().map(|r| mb(f(r))).collect();
        values.map(|v| Spread::of(v).median)
    };
    let throughput = Spread::of(runs.iter().map(|r| r.events_per_s));
    // Rows out are a function of the input: every run agrees unless the engine is wrong,
    // and then the largest makes the difference visible next to `runs.jsonl`.
    let max_of = |f: &dyn Fn(&Measurement) -> u64| runs.iter().map(|r| f(r)).max().unwrap_or(0);
    ResultRow {
        query: setup.query.clone(),
        workload: setup.workload.clone(),
        events: setup.events,
        batch_ms: setup.batch_ms,
        workers,
        runs: runs.len(),
        events_per_s: throughput.median,
        events_per_s_min: throughput.min,
        events_per_s_max: throughput.max,
        events_per_s_per_worker: throughput.median / workers.max(1) as f64,
        latency_p50_ms: median(&|r| r.latency.p50_ms),
        latency_p90_ms: median(&|r| r.latency.p90_ms),
        latency_p99_ms: median(&|r| r.latency.p99_ms),
        latency_max_ms: median(&|r| r.latency.max_ms),
        peak_rss_mb: rss(&|r| r.peak_rss_bytes),
        input_rss_mb: rss(&|r| r.input_rss_bytes),
        rows_out: max_of(&|r| r.rows_out),
        late: max_of(&|r| r.late),
        errors: max_of(&|r| r.errors),
    }
}

/// Writes `results.jsonl`, `results.csv` and `runs.jsonl` into `dir` (replacing them).
pub fn write_results(
    dir: &Path,
    setup: &Setup,
    runs: &[Measurement],
) -> Result<Vec<ResultRow>, BenchError> {
    if runs.is_empty() {
        return Err(BenchError::NoRuns);
    }
    let rows = summarise(setup, runs);
    write_jsonl(&dir.join("results.jsonl"), &rows)?;
    write_jsonl(&dir.join("runs.jsonl"), runs)?;
    let path = dir.join("results.csv");
    let error = |e: &dyn std::fmt::Display| write_error(&path, e);
    let mut csv = csv::Writer::from_path(&path).map_err(|e| error(&e))?;
    for row in &rows {
        csv.serialize(row).map_err(|e| error(&e))?;
    }
    csv.flush().map_err(|e| error(&e))?;
    Ok(rows)
}

fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<(), BenchError> {
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item).map_err(|e| write_error(path, &e))?);
        text.push('\n');
    }
    let mut file = std::fs::File::create(path).map_err(|e| write_error(path, &e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| write_error(path, &e))
}

fn write_error(path: &Path, error: &dyn std::fmt::Display) -> BenchError {
    BenchError::Write {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::{BatchLatency, LatencySummary};

    fn run(workers: usize, events_per_s: f64, p50: f64) -> Measurement {
        Measurement {
            workers,
            events: 1000,
            elapsed_s: 1000.0 / events_per_s,
            events_per_s,
            events_per_s_per_worker: events_per_s / workers as f64,
            latency: LatencySummary {
                p50_ms: p50,
                p90_ms: p50 * 2.0,
                p99_ms: p50 * 3.0,
                max_ms: p50 * 4.0,
            },
            peak_rss_bytes: Some(4 << 20),
            input_rss_bytes: None,
            rows_out: 7,
            late: 0,
            errors: 0,
            pipelines: vec![("p".into(), 7)],
            batches: vec![BatchLatency {
                ms: p50,
                events: 1000,
            }],
        }
    }

    #[test]
    fn rows_summarise_each_worker_count() {
        let setup = Setup {
            query: "q0".into(),
            workload: "nexmark".into(),
            events: 1000,
            batch_ms: 100,
        };
        let runs = [
            run(1, 100.0, 1.0),
            run(2, 150.0, 2.0),
            run(1, 300.0, 3.0),
            run(1, 200.0, 2.0),
        ];
        let rows = summarise(&setup, &runs);
        assert_eq!(rows.len(), 2);
        let one = &rows[0];
        assert_eq!((one.workers, one.runs), (1, 3));
        assert_eq!(
            (one.events_per_s, one.events_per_s_min, one.events_per_s_max),
            (200.0, 100.0, 300.0)
        );
        assert_eq!((one.latency_p50_ms, one.latency_max_ms), (2.0, 8.0));
        assert_eq!((one.peak_rss_mb, one.input_rss_mb), (Some(4.0), None));
        let two = &rows[1];
        assert_eq!((two.workers, two.events_per_s_per_worker), (2, 75.0));
    }

    #[test]
    fn files_hold_every_row_and_run() {
        let dir = std::env::temp_dir().join(format!("kvflow-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let setup = Setup {
            query: "q1".into(),
            workload: "nexmark".into(),
            events: 1000,
            batch_ms: 100,
        };
        let runs = [run(1, 100.0, 1.0), run(4, 300.0, 3.0)];
        let rows = write_results(&dir, &setup, &runs).unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let parsed: Vec<ResultRow> = read("results.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed, rows);
        let back: Vec<Measurement> = read("runs.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, runs);
        let mut csv = csv::Reader::from_path(dir.join("results.csv")).unwrap();
        let from_csv: Vec<ResultRow> = csv.deserialize().map(|r| r.unwrap()).collect();
        assert_eq!(from_csv, rows);
        assert!(matches!(
            write_results(&dir, &setup, &[]),
            Err(BenchError::NoRuns)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
