//! dataflows/alerts.toml and its SQL twin: alerts on order totals per user and 10 s window, delivered to a
//! webhook served by the test (whose first answer is a 500, so the retry is exercised) and
//! to the JSON Lines output; both checked against a brute-force recompute of the windows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kvflow::change::Op;
use kvflow::dataflow_file::{DefaultInput, load_sql_str, load_str};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::capture::Capture;
use kvflow::sinks::external::ExternalSinks;
use kvflow::workload::generate;

use super::webhook::{Answer, Webhook};
use crate::support::repo;

const THRESHOLD: i64 = 2000;
const COOLDOWN: u64 = 30_000;
const WINDOW: u64 = 10_000;

/// (user, window_end, total) of every alert the file's rule fires, recomputed from the input.
fn oracle(input: &[kvflow::change::Mutation]) -> BTreeSet<(String, u64, i64)> {
    let mut live = BTreeSet::new();
    let mut windows: BTreeMap<(String, u64), i64> = BTreeMap::new();
    for m in input {
        if !m.key.starts_with("order_") {
            continue;
        }
        match m.op {
            Op::Delete => {
                live.remove(&m.key);
            }
            Op::Put if live.insert(m.key.clone()) => {
                let user = m.value.get("user_id").as_str().expect("user").to_string();
                let end = m.ts.expect("ts") / WINDOW * WINDOW + WINDOW;
                *windows.entry((user, end)).or_default() +=
                    m.value.get("amount").as_i64().expect("amount");
            }
            Op::Put => {}
        }
    }
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut fired = BTreeSet::new();
    for ((user, end), total) in windows {
        if total <= THRESHOLD || last.get(&user).is_some_and(|l| end < l + COOLDOWN) {
            continue;
        }
        last.insert(user.clone(), end);
        fired.insert((user, end, total));
    }
    fired
}

fn summary(alert: &serde_json::Value) -> (String, u64, i64) {
    let row = &alert["row"];
    (
        row["user"].as_str().expect("user").to_string(),
        row["window_end"].as_u64().expect("window_end"),
        row["total"].as_i64().expect("total"),
    )
}

#[test]
fn alerts_file_fires_what_the_oracle_says_to_webhook_and_log() {
    let toml = |url: &str| {
        let deliver = format!(
            r#"deliver = [{{ kind = "log" }}, {{ kind = "webhook", url = "{url}", retries = 3, retry_delay_ms = 1 }}]"#
        );
        (r#"deliver = [{ kind = "log" }]"#.to_string(), deliver)
    };
    fires_what_the_oracle_says("alerts.toml", toml);
}

/// The SQL twin, its webhook given as `webhook.<option>`s of the sink.
#[test]
fn alerts_sql_file_fires_what_the_oracle_says_to_webhook_and_log() {
    let sql = |url: &str| {
        let deliver = format!(
            "deliver = 'log, webhook', webhook.url = '{url}', webhook.max_retries = 3, \
             webhook.retry_delay_ms = 1"
        );
        ("deliver = 'log'".to_string(), deliver)
    };
    fires_what_the_oracle_says("alerts.sql", sql);
}

/// Runs the shipped file `name` with its delivery line replaced by one that also posts to a
/// test webhook (`deliver(url)` gives the line and its replacement), on 2 workers, and
/// checks the alerts posted and logged against the oracle.
fn fires_what_the_oracle_says(name: &str, deliver: impl Fn(&str) -> (String, String)) {
    let receiver = Webhook::start(|n| match n {
        1 => Answer::Status(500),
        _ => Answer::Status(200),
    });
    let dir = repo("dataflows");
    let text = std::fs::read_to_string(dir.join(name)).expect("the shipped file");
    let (line, webhook) = deliver(&receiver.url);
    assert!(text.contains(&line), "the file's deliver line changed");
    let text = text.replace(&line, &webhook);
    let loaded = match name.ends_with(".sql") {
        true => load_sql_str(&text, name, &dir),
        false => load_str(&text, name, &dir),
    };
    let loaded = loaded.unwrap_or_else(|e| panic!("{e}"));
    let Some(DefaultInput::Generate { workload, config }) = loaded.input else {
        panic!("{name} generates its input")
    };
    let input: Vec<_> = generate(&workload, &config).collect();
    let expected = oracle(&input);
    assert!(expected.len() > 10, "the threshold makes alerts");
    let capture = Capture::new();
    let sinks = ExternalSinks::new();
    let options = RunOptions {
        external: Some(sinks.clone()),
        ..RunOptions::default().workers(2)
    };
    run(
        Arc::new(loaded.plan),
        InputSource::Memory(Arc::new(input)),
        options,
        Arc::new(capture.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (bodies, requests) = receiver.stop();
    let posted: BTreeSet<_> = bodies
        .iter()
        .map(|b| summary(&serde_json::from_str(b).expect("JSON body")))
        .collect();
    assert_eq!(posted, expected);
    assert_eq!(bodies.len(), expected.len(), "each alert posted once");
    assert_eq!(requests, expected.len() + 1, "one retry after the 500");
    let logged: BTreeSet<_> = capture
        .sorted("big_spender.alerts", OutputKind::Rows)
        .iter()
        .map(|l| summary(&serde_json::from_str(l).expect("JSON line")))
        .collect();
    assert_eq!(logged, expected);
    let stats = sinks.alert_stats("big_spender");
    assert_eq!(stats.fired.load(Ordering::Relaxed), expected.len() as u64);
    assert_eq!(stats.undelivered.load(Ordering::Relaxed), 0);
    assert!(
        capture
            .sorted("order_totals", OutputKind::Errors)
            .is_empty()
    );
}

#[test]
fn an_unreachable_webhook_becomes_an_error_row() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let text = format!(
        r#"
[sources.t]
view = "table"

[[pipelines]]
name = "big"
from = "t"
steps = [{{ map = {{ key = "key", n = "CAST(value.n AS INT)" }} }}]

[[alerts]]
name = "n_high"
from = "big"
condition = "n > 900"
message = "{{key}} is {{n}}"
deliver = [{{ kind = "webhook", url = "http://127.0.0.1:{port}/", retries = 1, retry_delay_ms = 1, timeout_ms = 500 }}]
"#
    );
    // Distinct keys with n = 0, 10, ..., 990: the last nine are over 900.
    let input: Vec<_> = (0..100)
        .map(|i| {
            let value = kvflow::value::Value::parse_json(&format!(r#"{{"n":{}}}"#, i * 10));
            kvflow::change::Mutation::put(format!("k{i}"), value.expect("json"), 1_000 + i * 7)
        })
        .collect();
    let expected = 9;
    let (_, capture, sinks) = super::common::run_text(&text, input, 1);
    let errors = capture.sorted("big", OutputKind::Errors);
    assert!(expected > 0);
    assert_eq!(errors.len(), expected, "one error row per alert");
    assert!(errors.iter().all(|e| e.contains("not delivered")));
    assert_eq!(
        sinks
            .alert_stats("n_high")
            .undelivered
            .load(Ordering::Relaxed),
        expected as u64
    );
}
