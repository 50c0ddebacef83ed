//! `kvflow bench` end to end: on a tiny workload it writes results.jsonl, results.csv,
//! runs.jsonl and the plots with the expected fields, and the rows it counts equal what a
//! plain `kvflow run` of the same generated input writes (the oracle).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::support::{kvflow_output as kvflow, repo, s, succeeded, tmp};

const FIELDS: [&str; 19] = [
    "query",
    "workload",
    "events",
    "batch_ms",
    "workers",
    "runs",
    "events_per_s",
    "events_per_s_min",
    "events_per_s_max",
    "events_per_s_per_worker",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "peak_rss_mb",
    "input_rss_mb",
    "rows_out",
    "late",
    "errors",
];

fn json_lines(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Lines per pipeline that `kvflow run` writes for `file` over `generator` (rows only).
fn oracle_rows(file: &str, generator: &[&str], dir: &Path) -> BTreeMap<String, u64> {
    let input = dir.join("input.jsonl");
    let mut args = vec!["generate"];
    args.extend(generator);
    args.extend(["-o", input.to_str().expect("utf-8")]);
    succeeded(kvflow(&args));
    let out = dir.join("run");
    succeeded(kvflow(&[
        "run",
        file,
        "--input",
        input.to_str().expect("utf-8"),
        "--output",
        out.to_str().expect("utf-8"),
    ]));
    let mut rows = BTreeMap::new();
    for entry in std::fs::read_dir(&out).expect("run output") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if let Some(pipeline) = name.strip_suffix(".jsonl")
            && !pipeline.contains('.')
            && pipeline != "bad-input"
        {
            let text = std::fs::read_to_string(&path).expect("output file");
            rows.insert(pipeline.to_string(), text.lines().count() as u64);
        }
    }
    rows
}

/// Benches `file` over `generator` (workload name first) with 1 and 2 workers, twice each,
/// with `extra` options, and checks every file it writes against the oracle.
fn bench_matches_run(file: &Path, generator: &[&str], extra: &[&str]) {
    let file = s(file);
    let dir = tmp();
    let dir = dir.path();
    let out = dir.join("bench");
    let mut args = vec!["bench", file, "--workload"];
    args.extend(generator);
    args.extend([
        "-w",
        "1,2",
        "--repeat",
        "2",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    args.extend(extra);
    let output = succeeded(kvflow(&args));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("events/s"), "{table}");

    let expected = oracle_rows(file, generator, dir);
    let total: u64 = expected.values().sum();
    assert!(total > 0, "the oracle run wrote no rows");

    let results = json_lines(&out.join("results.jsonl"));
    assert_eq!(results.len(), 2);
    for (row, workers) in results.iter().zip([1, 2]) {
        let object = row.as_object().expect("an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut want = FIELDS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "results.jsonl fields");
        assert_eq!(row["workers"], workers);
        assert_eq!(row["runs"], 2);
        assert_eq!(row["rows_out"], total, "rows out with {workers} workers");
        assert_eq!(row["events"], 3000);
        let number = |field: &str| row[field].as_f64().expect(field);
        assert!(number("events_per_s") > 0.0);
        assert!(number("events_per_s_min") <= number("events_per_s"));
        assert!(number("events_per_s") <= number("events_per_s_max"));
        let latencies = [
            "latency_p50_ms",
            "latency_p90_ms",
            "latency_p99_ms",
            "latency_max_ms",
        ]
        .map(number);
        assert!(latencies.windows(2).all(|w| w[0] <= w[1]), "{latencies:?}");
        if cfg!(target_os = "linux") {
            assert!(number("peak_rss_mb") >= number("input_rss_mb"));
        }
    }

    let runs = json_lines(&out.join("runs.jsonl"));
    assert_eq!(runs.len(), 4);
    for run in &runs {
        let pipelines: Vec<(String, u64)> =
            serde_json::from_value(run["pipelines"].clone()).expect("pipelines");
        let pipelines: BTreeMap<String, u64> = pipelines.into_iter().collect();
        assert_eq!(pipelines, expected, "rows per pipeline in {run}");
        let batched: u64 = run["batches"]
            .as_array()
            .expect("batches")
            .iter()
            .map(|b| b["events"].as_u64().expect("events"))
            .sum();
        assert_eq!(batched, 3000, "every event is in one batch");
    }

    let mut csv = csv::Reader::from_path(out.join("results.csv")).expect("results.csv");
    let header: Vec<String> = csv
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, FIELDS);
    let records: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(&record[16], total.to_string());
    }
    for plot in ["throughput.svg", "latency.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).expect(plot);
        assert!(
            svg.starts_with("<svg") && svg.contains("polyline"),
            "{plot}"
        );
    }
}

#[test]
fn nexmark_q5_bench_counts_the_rows_a_run_writes() {
    bench_matches_run(
        &repo("dataflows/nexmark/q5.toml"),
        &["nexmark", "--events", "3000", "--seed", "4"],
        &[],
    );
}

/// Also with `--metrics`: each measured run serves its metrics and still counts every row.
#[test]
fn zipf_bench_passes_keys_and_skew_to_the_generator() {
    bench_matches_run(
        &repo("dataflows/zipf_windows.toml"),
        &[
            "zipf",
            "--events",
            "3000",
            "--keys",
            "40",
            "--skew",
            "1.3",
            "--disorder-ms",
            "150",
        ],
        &["--metrics", "127.0.0.1:0"],
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let file = repo("dataflows/nexmark/q0.toml");
    let file = s(&file);
    let cases: [(&[&str], &str); 4] = [
        (&["-w", "0"], "worker counts of at least 1"),
        (&["--repeat", "0"], "--repeat"),
        (&["--keys", "10"], "`keys` applies only"),
        (&["--metrics", "bogus"], "--metrics bogus"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["bench", file, "--workload", "nexmark", "--events", "10"];
        args.extend(extra);
        let output = kvflow(&args);
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
    let output = kvflow(&["bench", file, "--workload", "bogus"]);
    assert_eq!(output.status.code(), Some(2));
}
