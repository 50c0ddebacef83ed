//! `kvflow bench`: measures a dataflow file over a pre-generated workload for each worker
//! count, `--repeat` times, and writes the results and plots into `--out`.
//!
//! Each measured run is a child process (this binary with the hidden `--child-run W`) that
//! generates the input (not timed), runs it once and prints its measurement as JSON: peak RSS
//! is then the run's own (see `kvflow::bench`), and one run's heap cannot slow the next. The
//! parent only spawns, shows progress and writes the reports.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kvflow::bench::plot;
use kvflow::bench::report::{ResultRow, Setup, write_results};
use kvflow::bench::run::{Batching, Measurement, Watchers, measure};
use kvflow::runtime::Metrics;
use kvflow::sinks::external::ExternalSinks;
use kvflow::workload::generate as generate_stream;

use super::CliError;
use super::generate::workload_config;
use crate::args::BenchArgs;

pub fn bench(args: BenchArgs) -> Result<(), CliError> {
    let loaded = kvflow::dataflow_file::load_file(&args.file)?;
    let (workload, config) = workload_config(&args.workload, &args.generator)?;
    if let Some(workers) = args.child_run {
        let input = Arc::new(generate_stream(&workload, &config).collect::<Vec<_>>());
        let plan = Arc::new(loaded.plan);
        let names: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
        let metrics = Arc::new(Metrics::new(&names));
        let external = Arc::new(ExternalSinks::default());
        let exporter = super::start_exporter(args.metrics.as_deref(), &plan, &metrics, &external)?;
        let watchers = exporter.as_ref().map(|e| Watchers {
            operator_stats: e.operators.clone(),
            observer: e.observer(),
        });
        let run = (workers.max(1), batching(&args));
        let measured = measure(plan, input, run, metrics, watchers).map_err(runtime)?;
        let json = serde_json::to_string(&measured).map_err(runtime)?;
        println!("{json}");
        return Ok(());
    }
    if args.workers.is_empty() || args.workers.contains(&0) {
        return Err(CliError::File(
            "-w needs worker counts of at least 1, e.g. -w 1,2,4".into(),
        ));
    }
    if args.repeat == 0 {
        return Err(CliError::File("--repeat must be at least 1".into()));
    }
    if let Some(addr) = &args.metrics {
        kvflow::exporter::parse_addr(addr).map_err(CliError::File)?;
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::File(format!("cannot create {}: {e}", args.out.display())))?;
    let setup = Setup {
        query: file_stem(&args.file),
        workload: workload.name().to_string(),
        events: config.events,
        batch_ms: args.batch_ms.max(1),
    };
    let runs = measure_all(&args)?;
    let rows = write_results(&args.out, &setup, &runs).map_err(runtime)?;
    let title = format!(
        "{} on {} ({} events)",
        setup.query, setup.workload, setup.events
    );
    plot::throughput(&args.out.join("throughput.svg"), &title, &rows).map_err(runtime)?;
    plot::latency(&args.out.join("latency.svg"), &title, &runs).map_err(runtime)?;
    print_table(&rows);
    eprintln!(
        "results: {}/results.jsonl, results.csv, runs.jsonl, throughput.svg, latency.svg",
        args.out.display()
    );
    Ok(())
}

/// Every run, each in its own child process, with a progress bar.
fn measure_all(args: &BenchArgs) -> Result<Vec<Measurement>, CliError> {
    let total = (args.workers.len() * args.repeat) as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {msg}  {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut runs = Vec::new();
    for &workers in &args.workers {
        for repeat in 1..=args.repeat {
            bar.set_message(format!("-w {workers}, run {repeat}/{}", args.repeat));
            let run = child_run(args, workers);
            let run = match run {
                Ok(run) => run,
                Err(error) => {
                    bar.abandon();
                    return Err(error);
                }
            };
            bar.println(format!(
                "-w {workers} run {repeat}: {:.0} events/s, latency p99 {:.1} ms, rows out {}, \
                 late {}, errors {}",
                run.events_per_s, run.latency.p99_ms, run.rows_out, run.late, run.errors
            ));
            bar.inc(1);
            runs.push(run);
        }
    }
    bar.finish_and_clear();
    Ok(runs)
}

/// Runs this binary with `--child-run workers` and reads its measurement.
fn child_run(args: &BenchArgs, workers: usize) -> Result<Measurement, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Runtime(format!("cannot find this program: {e}")))?;
    let output = Command::new(exe)
        .args(child_args(args, workers))
        .output()
        .map_err(|e| CliError::Runtime(format!("cannot start a measured run: {e}")))?;
    if !output.status.success() {
        return Err(CliError::Runtime(format!(
            "the measured run with {workers} workers failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).map_err(|e| {
        CliError::Runtime(format!(
            "unreadable measurement from a run with {workers} workers: {e}"
        ))
    })
}

fn child_args(args: &BenchArgs, workers: usize) -> Vec<String> {
    let mut out = vec![
        "bench".to_string(),
        args.file.display().to_string(),
        "--workload".into(),
        args.workload.clone(),
        "--batch-ms".into(),
        args.batch_ms.to_string(),
        "--batch-events".into(),
        args.batch_events.to_string(),
        "--child-run".into(),
        workers.to_string(),
    ];
    if let Some(addr) = &args.metrics {
        out.extend(["--metrics".to_string(), addr.clone()]);
    }
    let g = &args.generator;
    let options = [
        ("--events", g.events.map(|v| v.to_string())),
        ("--seed", g.seed.map(|v| v.to_string())),
        ("--disorder-ms", g.disorder_ms.map(|v| v.to_string())),
        ("--rate-per-sec", g.rate_per_sec.map(|v| v.to_string())),
        ("--keys", g.keys.map(|v| v.to_string())),
        ("--skew", g.skew.map(|v| v.to_string())),
    ];
    for (flag, value) in options {
        if let Some(value) = value {
            out.push(flag.into());
            out.push(value);
        }
    }
    out
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "dataflow".into(), |s| s.to_string_lossy().to_string())
}

fn runtime(error: impl std::fmt::Display) -> CliError {
    CliError::Runtime(error.to_string())
}

fn print_table(rows: &[ResultRow]) {
    println!(
        "{:>7}  {:>12}  {:>23}  {:>12}  {:>31}  {:>9}  {:>10}  {:>10}  {:>10}",
        "workers",
        "events/s",
        "min..max",
        "per worker",
        "latency p50/p90/p99/max ms",
        "peak MB",
        "rows out",
        "late",
        "errors"
    );
    for r in rows {
        let rss = r
            .peak_rss_mb
            .map_or_else(|| "-".to_string(), |mb| format!("{mb:.0}"));
        println!(
            "{:>7}  {:>12.0}  {:>23}  {:>12.0}  {:>31}  {:>9}  {:>10}  {:>10}  {:>10}",
            r.workers,
            r.events_per_s,
            format!("{:.0}..{:.0}", r.events_per_s_min, r.events_per_s_max),
            r.events_per_s_per_worker,
            format!(
                "{:.1}/{:.1}/{:.1}/{:.1}",
                r.latency_p50_ms, r.latency_p90_ms, r.latency_p99_ms, r.latency_max_ms
            ),
            rss,
            r.rows_out,
            r.late,
            r.errors
        );
    }
    warn_about_errors(rows);
}

/// Says so on stderr when the runs wrote error rows (records that failed an expression):
/// the figures then include the error path, not only the query.
fn warn_about_errors(rows: &[ResultRow]) {
    if let Some(r) = rows.iter().find(|r| r.errors > 0) {
        eprintln!(
            "warning: the pipelines wrote {} error rows for {} events (`kvflow run` with \
             `--output DIR` writes them to DIR/<pipeline>.errors.jsonl): the figures include the \
             error path",
            r.errors, r.events
        );
    }
}

/// The batch rule of `args`: `--batch-ms` and `--batch-events`.
fn batching(args: &BenchArgs) -> Batching {
    Batching {
        ms: args.batch_ms.max(1),
        events: args.batch_events,
    }
}
