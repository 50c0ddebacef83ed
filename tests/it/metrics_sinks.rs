//! `--metrics` with sinks: a sync target's, an alert's and the routes' counters, scraped
//! during a real run, against what the target (the tests' real redis-server) holds and what
//! the run fed the alert and the routes.

use std::io::{BufReader, Write};
use std::process::Stdio;

use prometheus_parse::{Scrape, Value};

use crate::metrics::{metrics_address, scrape};
use crate::sinks::common::{redis, redis_clear, redis_state, redis_url};
use crate::support::{kvflow, tmp};

fn flow(redis_url: &str, prefix: &str) -> String {
    format!(
        r#"
[sources.events]
view = "events"

[[pipelines]]
name = "big"
from = "events"
[[pipelines.steps]]
filter = "value.v >= 90"

[[alerts]]
name = "big_value"
from = "big"
condition = "true"
message = "{{key}}"
deliver = [{{ kind = "log" }}]

[[sync]]
name = "to_redis"
keys = ["^k"]
target = {{ kind = "redis", url = "{redis_url}", prefix = "{prefix}" }}

[routing.handlers.seen]
kind = "each"

[[routes]]
name = "a_keys"
key_regex = "^ka"
handlers = ["seen"]

[[routes]]
name = "b1_keys"
key_regex = "^kb1"
handlers = ["seen"]
"#
    )
}

/// The value of the first sample of `metric` (with the label `label`, if given).
pub fn sample(scrape: &Scrape, metric: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let sample = scrape.samples.iter().find(|s| {
        s.metric == metric && label.is_none_or(|(name, value)| s.labels.get(name) == Some(value))
    })?;
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => None,
    }
}

#[test]
fn sink_counters_match_the_target_and_the_input() {
    let Some(mut connection) = redis() else {
        return;
    };
    let prefix = "kvflow-test:metrics-sync:";
    redis_clear(&mut connection, prefix);
    let dir = tmp();
    let path = dir.path().join("flow.toml");
    std::fs::write(&path, flow(&redis_url(), prefix)).unwrap();
    let mut child = kvflow()
        .args(["run", path.to_str().unwrap(), "--input", "-", "--output"])
        .arg(dir.path().join("out"))
        .args(["--metrics", "127.0.0.1:0", "--batch-events", "0"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kvflow");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let url = metrics_address(&mut stderr);
    // Each key written once, so what the target holds is what it was delivered.
    let (keys, base) = (300u64, 1_700_000_000_000u64);
    let mut input = String::new();
    for i in 0..keys {
        let key = if i % 3 == 0 { "ka" } else { "kb" };
        let line = format!(
            "{{\"ts\":{},\"op\":\"put\",\"key\":\"{key}{i}\",\"value\":{{\"v\":{}}}}}\n",
            base + i,
            i % 100
        );
        input.push_str(&line);
    }
    // A later batch, so every earlier one completes; its key is not synced.
    input.push_str(&format!(
        "{{\"ts\":{},\"op\":\"put\",\"key\":\"last\",\"value\":{{\"v\":0}}}}\n",
        base + 60_000
    ));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();

    let a_keys = (0..keys).filter(|i| i % 3 == 0).count() as f64;
    let b1_keys = (0..keys)
        .filter(|i| i % 3 != 0 && i.to_string().starts_with('1'))
        .count() as f64;
    let big = (0..keys).filter(|i| i % 100 >= 90).count() as f64;
    let target = Some(("target", "to_redis"));
    // NB: a batch leaves the queue once written: wait for both.
    let expected = [
        ("kvflow_sync_delivered_rows_total", target, keys as f64),
        ("kvflow_sync_queued_rows", target, 0.0),
        ("kvflow_routes_routed_events_total", None, a_keys + b1_keys),
        (
            "kvflow_route_events_total",
            Some(("route", "a_keys")),
            a_keys,
        ),
        (
            "kvflow_route_events_total",
            Some(("route", "b1_keys")),
            b1_keys,
        ),
        (
            "kvflow_routes_unrouted_events_total",
            None,
            keys as f64 - a_keys - b1_keys,
        ),
    ];
    let start = std::time::Instant::now();
    let seen = loop {
        let seen = scrape(&url);
        let values: Vec<Option<f64>> = expected
            .iter()
            .map(|(m, l, _)| sample(&seen, m, *l))
            .collect();
        // NB: an alert held back by its cooldown is counted as suppressed, not fired.
        let alert = Some(("alert", "big_value"));
        let alerts = sample(&seen, "kvflow_alerts_fired_total", alert)
            .zip(sample(&seen, "kvflow_alerts_suppressed_total", alert))
            .map(|(fired, suppressed)| fired + suppressed);
        if alerts == Some(big) && expected.iter().zip(&values).all(|(e, v)| *v == Some(e.2)) {
            break seen;
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "never settled: want {expected:?} and {big} alerts, saw {values:?}, {alerts:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let held = redis_state(&mut connection, prefix).len() as f64;
    assert_eq!(
        sample(&seen, "kvflow_sync_delivered_rows_total", target),
        Some(held),
        "delivered rows are what the target holds"
    );
    for metric in [
        "kvflow_sync_dead_lettered_rows_total",
        "kvflow_sync_retries_total",
        "kvflow_sync_standby_active",
    ] {
        assert_eq!(sample(&seen, metric, target), Some(0.0), "{metric}");
    }
    assert_eq!(sample(&seen, "kvflow_sync_healthy", target), Some(1.0));
    drop(stdin);
    assert!(child.wait().unwrap().success());
    redis_clear(&mut connection, prefix);
}
