//! `--metrics`: `/metrics` scraped during a real run and parsed with a Prometheus parser; its
//! values checked against what the test fed the run and what the run wrote.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStderr, Stdio};

use prometheus_parse::{Scrape, Value};

use crate::support::{eventually, kvflow, tmp};

const FLOW: &str = r#"
[sources.events]
view = "events"

[[pipelines]]
name = "big"
from = "events"

[[pipelines.steps]]
filter = "value.v >= 50"

[[pipelines]]
name = "typed"
from = "events"

[[pipelines.steps]]
map = { key = "key", half = "value.v / 2" }

[sources.live]
view = "table"

[[pipelines]]
name = "largest"
from = "live"

[[pipelines.steps]]
group_by = ["key"]
aggregates = { top = "max(value.v)" }

[[pipelines]]
name = "per_key"
from = "events"

[[pipelines.steps]]
group_by = ["key"]
aggregates = { n = "count(*)" }
"#;

/// The address the run says its metrics are at (read from its stderr).
pub fn metrics_address(stderr: &mut BufReader<ChildStderr>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let read = stderr.read_line(&mut line).expect("read stderr");
        assert!(read > 0, "the run ended without announcing its metrics");
        if let Some(url) = line.trim().strip_prefix("metrics: ") {
            return url.to_string();
        }
    }
}

fn scrape_text(url: &str) -> String {
    ureq::get(url)
        .call()
        .expect("scrape")
        .into_body()
        .read_to_string()
        .expect("body")
}

pub fn scrape(url: &str) -> Scrape {
    let body = scrape_text(url);
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format")
}

/// The value of the sample `metric` (with `pipeline` as its label, if given).
fn value(scrape: &Scrape, metric: &str, pipeline: Option<&str>) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && s.labels.get("pipeline") == pipeline)
        .unwrap_or_else(|| panic!("no sample {metric} {pipeline:?}"));
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{metric} is not a number: {other:?}"),
    }
}

/// The first scrape whose values are all `expected`; fails after 30 s showing the last one.
fn settled(url: &str, expected: &[(&str, Option<&str>, f64)]) -> Scrape {
    let start = std::time::Instant::now();
    loop {
        let seen = scrape(url);
        let actual: Vec<f64> = expected
            .iter()
            .map(|(metric, pipeline, _)| value(&seen, metric, *pipeline))
            .collect();
        if expected.iter().zip(&actual).all(|((_, _, e), a)| e == a) {
            return seen;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "metrics never settled: expected {expected:?}, last seen {actual:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The sum of `metric` over the series whose `operator` label starts with `operator`. NB:
/// operator names hold commas and `=`, which the parser's label splitting does not handle,
/// so these series are read from the text (the label is the first one, the value last).
fn sum(text: &str, metric: &str, operator: &str) -> f64 {
    let prefix = format!("{metric}{{operator=\"{operator}");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `node` label of each series of `metric` whose `operator` label starts with
/// `operator` (`-` for a series without one), sorted and without repeats. Read from the text,
/// as in [`sum`].
fn nodes(text: &str, metric: &str, operator: &str) -> Vec<String> {
    let prefix = format!("{metric}{{operator=\"{operator}");
    let mut nodes: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .map(|line| {
            let node = line.split(",node=\"").nth(1);
            node.and_then(|n| n.split('"').next())
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

fn line(i: u64, ts: u64, v: &str) -> String {
    format!("{{\"ts\":{ts},\"op\":\"put\",\"key\":\"k{i}\",\"value\":{{\"v\":{v}}}}}\n")
}

#[test]
fn a_scrape_during_a_run_counts_what_was_fed_and_what_was_written() {
    let dir = tmp();
    let flow = dir.path().join("flow.toml");
    std::fs::write(&flow, FLOW).unwrap();
    let out = dir.path().join("out");
    let mut child = kvflow()
        .args(["run", flow.to_str().unwrap(), "--input", "-", "--output"])
        .arg(&out)
        .args(["--metrics", "127.0.0.1:0", "--batch-events", "0"])
        .args(["--on-bad-input", "skip"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kvflow");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let url = metrics_address(&mut stderr);
    let mut stdin = child.stdin.take().unwrap();
    let (events, base) = (500u64, 1_700_000_000_000u64);
    let mut input = String::new();
    for i in 0..events {
        input.push_str(&line(i, base + i, &(i % 100).to_string()));
        if i == 50 {
            // A string where both pipelines need a number: an error row of each.
            input.push_str(&line(events, base + i, "\"x\""));
            input.push_str("not a mutation\n");
        }
    }
    // Opens a later batch, so every batch before it can complete and be counted. Filtered
    // out by `big`.
    input.push_str(&line(events + 1, base + 60_000, "0"));
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();

    let fed = events + 2;
    let big = (0..events).filter(|i| i % 100 >= 50).count() as f64;
    // The last line opened the batch the input is in, alone.
    let expected: [(&str, Option<&str>, f64); 12] = [
        ("kvflow_input_batch_events", None, 1.0),
        ("kvflow_pipeline_rows_in_total", Some("big"), fed as f64),
        ("kvflow_pipeline_rows_in_total", Some("typed"), fed as f64),
        ("kvflow_pipeline_rows_in_total", Some("largest"), fed as f64),
        ("kvflow_input_events_total", None, fed as f64),
        ("kvflow_input_bad_lines_total", None, 1.0),
        ("kvflow_pipeline_rows_out_total", Some("big"), big),
        (
            "kvflow_pipeline_rows_out_total",
            Some("typed"),
            events as f64,
        ),
        ("kvflow_pipeline_error_rows_total", Some("big"), 1.0),
        ("kvflow_pipeline_error_rows_total", Some("typed"), 1.0),
        ("kvflow_pipeline_late_rows_total", Some("big"), 0.0),
        (
            "kvflow_input_max_event_time_milliseconds",
            None,
            (base + 60_000) as f64,
        ),
    ];
    // NB: the counters move as the batch before the last completes; wait for that.
    let seen = settled(&url, &expected);
    assert!(value(&seen, "kvflow_watermark_milliseconds", None) >= (base + events) as f64);
    // Every operator reports its scheduled time, the max's arrangement holds at least one
    // update per key whose batch is complete (a trace keeps what it has not compacted), and
    // the store's operator received every mutation.
    // NB: the workers' logs reach the endpoint in buffers: wait for them.
    eventually("the operators' figures", || {
        let text = scrape_text(&url);
        let scheduled = sum(
            &text,
            "kvflow_operator_scheduled_seconds_total",
            "Source(events)",
        );
        let arranged = sum(&text, "kvflow_arrangement_updates", "Arrange");
        // Every mutation reaches the store's operator once (one worker: no exchange).
        let stored = sum(&text, "kvflow_operator_records_in_total", "StoreShard");
        // The running counts hold a total per key of every completed batch: all but the
        // last line's.
        let totals = sum(&text, "kvflow_operator_state_entries", "AccumulateTotals");
        let settled = stored == fed as f64 && totals == (fed - 1) as f64;
        (scheduled > 0.0 && arranged >= events as f64 && settled).then_some(())
    });
    // The store holds each key fed once. Its bytes are the keys' and the values' binary form:
    // `{"v":<int>}` is a map tag and length (5), the field's length and name (5), an int's tag
    // and 8 bytes (9); `{"v":"x"}` has a string's tag, length and byte (6) instead.
    let keys = (0..events + 2)
        .map(|i| format!("k{i}").len())
        .sum::<usize>();
    let stored_bytes = keys + (events as usize + 1) * 19 + 16;
    eventually("the store's figures", || {
        let seen = scrape(&url);
        let shard = |metric: &str| {
            let sample = seen.samples.iter().find(|s| s.metric == metric)?;
            match (sample.labels.get("shard"), &sample.value) {
                (Some("0"), Value::Gauge(v)) => Some(*v),
                _ => None,
            }
        };
        let figures = (shard("kvflow_store_keys"), shard("kvflow_store_bytes"));
        (figures == (Some(fed as f64), Some(stored_bytes as f64))).then_some(())
    });
    // Each operator is labelled with the node of `explain`'s graph that built it: the running
    // counts with `per_key`'s aggregate, the source's operators with the source; the store's
    // operator is not on the graph.
    let text = scrape_text(&url);
    let state = "kvflow_operator_state_entries";
    assert_eq!(nodes(&text, state, "AccumulateTotals"), ["per_key_1"]);
    let records = "kvflow_operator_records_in_total";
    assert_eq!(nodes(&text, records, "Source(events)"), ["src_events"]);
    assert_eq!(nodes(&text, records, "StoreShard"), ["-"]);
    assert_eq!(
        nodes(&text, "kvflow_arrangement_updates", "Arrange"),
        ["largest_1"]
    );
    // Every batch before the last has been passed by the outputs: each is in the run's
    // latency histogram once, and in each pipeline's. NB: a histogram learns it when the
    // worker next looks at its outputs' frontier, which may be a step after the counters.
    let batches = value(&seen, "kvflow_input_batches_total", None);
    let count_of = |text: &str, series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let mut series = vec!["kvflow_batch_latency_seconds_count ".to_string()];
    for pipeline in ["big", "typed", "largest"] {
        series.push(format!(
            "kvflow_pipeline_latency_seconds_count{{pipeline=\"{pipeline}\"}} "
        ));
    }
    eventually("the batches' latencies", || {
        let text = scrape_text(&url);
        let counts: Vec<Option<f64>> = series.iter().map(|s| count_of(&text, s)).collect();
        for (name, count) in series.iter().zip(&counts) {
            assert!(
                count.is_none_or(|c| c <= batches),
                "{name}: latency count {count:?} of {batches} batches"
            );
        }
        counts
            .iter()
            .all(|c| c.is_some_and(|c| c >= 1.0))
            .then_some(())
    });
    let missing = ureq::get(url.replace("/metrics", "/nothing").as_str()).call();
    assert!(missing.is_err(), "only /metrics is served");

    drop(stdin);
    let status = child.wait().expect("wait");
    assert!(status.success());
    let written = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .unwrap()
            .lines()
            .count() as f64
    };
    assert_eq!(written("big.jsonl"), big, "rows out are the lines written");
    assert_eq!(written("typed.jsonl"), events as f64 + 1.0);
    assert_eq!(written("typed.errors.jsonl"), 1.0);
}

#[test]
fn an_address_that_cannot_be_bound_is_refused_before_the_run() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = kvflow()
        .args(["run", "dataflows/quickstart.toml", "--metrics", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--metrics") && stderr.contains("cannot listen"),
        "{stderr}"
    );
}
