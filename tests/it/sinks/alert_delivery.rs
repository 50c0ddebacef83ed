//! Alert delivery under slow and failing webhooks (issue 13, defect 7): a webhook that accepts
//! and never answers holds up nothing but its own alerts, which go to the dead-letter output
//! after their retries; a webhook that fails and recovers gets every alert once; a slow
//! webhook with a small queue back-pressures the dataflow and loses nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kvflow::change::Mutation;
use kvflow::dataflow_file::load_str;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::file::DirOutputs;
use kvflow::value::Value;

use super::common::run_with;
use super::webhook::{Answer, Webhook};

/// Two pipelines over a table of keys `k<i>` with `n = i`: the rows, and counts per tag.
const PIPELINES: &str = r#"
[sources.t]
view = "table"

[[pipelines]]
name = "big"
from = "t"
steps = [{ map = { key = "key", n = "CAST(value.n AS INT)" } }]

[[pipelines]]
name = "per_tag"
from = "t"
steps = [{ aggregates = { count = "count(*)", total = "sum(CAST(value.n AS INT))" }, group_by = ["value.tag"] }]
"#;

fn input(n: u64) -> Vec<Mutation> {
    (0..n)
        .map(|i| {
            let text = format!(r#"{{"n":{i},"tag":"t{}"}}"#, i % 7);
            Mutation::put(
                format!("k{i}"),
                Value::parse_json(&text).expect("json"),
                1_000 + i * 7,
            )
        })
        .collect()
}

/// An alert `name` on pipeline `big` that fires for each row with `condition`.
fn alert(name: &str, condition: &str, deliver: &str) -> String {
    format!(
        "\n[[alerts]]\nname = \"{name}\"\nfrom = \"big\"\ncondition = \"{condition}\"\n\
         message = \"{{key}}\"\ndeliver = [{deliver}]\n"
    )
}

/// Runs `text` over `input` with 2 workers into the directory `dir`, in a thread.
fn run_into(
    text: &str,
    input: Vec<Mutation>,
    dir: &Path,
    sinks: Arc<ExternalSinks>,
) -> std::sync::mpsc::Receiver<()> {
    let loaded = load_str(text, "test.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let outputs = Arc::new(DirOutputs::new(dir, None));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let options = RunOptions {
            external: Some(sinks),
            ..RunOptions::default().workers(2)
        };
        run(
            Arc::new(loaded.plan),
            InputSource::Memory(Arc::new(input)),
            options,
            outputs,
        )
        .unwrap_or_else(|e| panic!("run failed: {e}"));
        let _ = done.send(());
    });
    finished
}

/// Each file of `dir` (by name) and its lines, sorted (workers interleave lines).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    std::fs::read_dir(dir)
        .expect("output dir")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("output file");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                lines,
            )
        })
        .collect()
}

/// Each line parsed as JSON and written back, sorted: the same alerts compare equal whether
/// they came as a log line, a webhook body or a dead letter's `body`.
fn normalized<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .expect("JSON")
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn issue_13_a_webhook_that_never_answers_holds_up_only_its_own_alerts() {
    let stuck = Webhook::start(|_| Answer::Never);
    let good = Webhook::start(|_| Answer::Status(200));
    let stuck_hook = format!(
        r#"{{ kind = "webhook", url = "{}", timeout_ms = 300, max_retries = 2, retry_delay_ms = 1, retry_cap_ms = 5 }}, {{ kind = "log" }}"#,
        stuck.url
    );
    let good_hook = format!(r#"{{ kind = "webhook", url = "{}" }}"#, good.url);
    let text = format!(
        "{PIPELINES}{}{}",
        alert("stuck", "n >= 0", &stuck_hook),
        alert("other", "n < 30", &good_hook)
    );
    let (with_alerts, without) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rows = 300;
    let sinks = ExternalSinks::new();
    let finished = run_into(&text, input(rows), with_alerts.path(), sinks.clone());
    // NB: one alert after another, each through its three attempts, would take
    // 300 x 3 x 300 ms / 2 workers = 135 s; the run must not deliver that way.
    let limit = Duration::from_secs(60);
    let started = Instant::now();
    assert!(
        finished.recv_timeout(limit).is_ok(),
        "the run did not end within {limit:?} of a webhook that never answers"
    );
    eprintln!("the run ended after {:?}", started.elapsed());
    run_into(PIPELINES, input(rows), without.path(), ExternalSinks::new())
        .recv()
        .expect("the run without alerts");
    let (got, want) = (files(with_alerts.path()), files(without.path()));
    for (name, lines) in &want {
        assert_eq!(
            got.get(name),
            Some(lines),
            "{name} differs from a run without alerts"
        );
    }
    let extra: BTreeSet<&str> = got
        .keys()
        .filter(|name| !want.contains_key(*name))
        .map(String::as_str)
        .collect();
    let expected_extra = [
        "big.errors.jsonl",
        "stuck.alerts.jsonl",
        "stuck.webhook-dead-letter.jsonl",
    ];
    assert_eq!(extra, BTreeSet::from(expected_extra));

    let logged = &got["stuck.alerts.jsonl"];
    assert_eq!(logged.len(), rows as usize, "every stuck alert is logged");
    let dead: Vec<serde_json::Value> = got["stuck.webhook-dead-letter.jsonl"]
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON dead letter"))
        .collect();
    assert!(
        dead.iter()
            .all(|d| d["alert"] == "stuck" && d["url"] == stuck.url.as_str())
    );
    let bodies: Vec<String> = dead.iter().map(|d| d["body"].to_string()).collect();
    assert_eq!(
        normalized(bodies.iter().map(String::as_str)),
        normalized(logged.iter().map(String::as_str)),
        "each stuck alert is dead-lettered once"
    );
    let errors = &got["big.errors.jsonl"];
    assert_eq!(
        errors.len(),
        rows as usize,
        "one error row per undelivered alert"
    );
    assert!(errors.iter().all(|e| e.contains("not delivered")));
    let stats = sinks.alert_stats("stuck");
    assert_eq!(stats.fired.load(Ordering::Relaxed), rows);
    assert_eq!(stats.undelivered.load(Ordering::Relaxed), rows);

    let (_, stuck_requests) = stuck.stop();
    assert!(
        stuck_requests >= 3,
        "an alert had its retries: {stuck_requests} requests"
    );
    let (posted, _) = good.stop();
    let expected: Vec<String> = (0..30)
        .map(|i| format!("k{i}"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut posted_keys: Vec<String> = posted
        .iter()
        .map(|b| {
            let body: serde_json::Value = serde_json::from_str(b).expect("JSON body");
            body["message"].as_str().expect("message").to_string()
        })
        .collect();
    posted_keys.sort();
    assert_eq!(
        posted_keys, expected,
        "the other alert is delivered, each once"
    );
    assert_eq!(
        sinks
            .alert_stats("other")
            .undelivered
            .load(Ordering::Relaxed),
        0
    );
}

#[test]
fn a_webhook_that_fails_then_recovers_gets_every_alert_once() {
    let failures = 4;
    let hook = Webhook::start(move |n| match n <= failures {
        true => Answer::Status(503),
        false => Answer::Status(200),
    });
    let deliver = format!(
        r#"{{ kind = "webhook", url = "{}", max_retries = 5, retry_delay_ms = 1, retry_cap_ms = 4 }}, {{ kind = "log" }}"#,
        hook.url
    );
    let text = format!("{PIPELINES}{}", alert("flaky", "n % 3 = 0", &deliver));
    let (_, capture, sinks) = run_with(&text, input(200), 2, ExternalSinks::new());
    let (bodies, requests) = hook.stop();
    let logged = capture.sorted("flaky.alerts", OutputKind::Rows);
    assert!(logged.len() > 50);
    assert_eq!(
        normalized(bodies.iter().map(String::as_str)),
        normalized(logged.iter().map(String::as_str)),
        "every alert delivered once"
    );
    assert_eq!(requests, logged.len() + failures);
    let stats = sinks.alert_stats("flaky");
    assert_eq!(
        stats.webhook_failures.load(Ordering::Relaxed),
        failures as u64
    );
    assert_eq!(stats.retries.load(Ordering::Relaxed), failures as u64);
    assert_eq!(stats.undelivered.load(Ordering::Relaxed), 0);
    assert!(capture.sorted("big", OutputKind::Errors).is_empty());
}

#[test]
fn a_slow_webhook_with_a_small_queue_back_pressures_and_drops_nothing() {
    let sinks = ExternalSinks::new();
    let stats = sinks.alert_stats("slow");
    // The first answer waits until the full queue has held the dataflow back once (so the
    // back-pressure is certain, not a race); every answer after it takes a millisecond.
    let hook = Webhook::start(move |n| {
        let until = Instant::now() + Duration::from_secs(30);
        while n == 1 && stats.backpressured.load(Ordering::Relaxed) == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(1));
        Answer::Status(200)
    });
    let deliver = format!(
        r#"{{ kind = "webhook", url = "{}", queue = 2, timeout_ms = 60000 }}, {{ kind = "log" }}"#,
        hook.url
    );
    let text = format!("{PIPELINES}{}", alert("slow", "n % 2 = 0", &deliver));
    let (_, capture, sinks) = run_with(&text, input(300), 2, sinks);
    let (bodies, requests) = hook.stop();
    let logged = capture.sorted("slow.alerts", OutputKind::Rows);
    assert_eq!(logged.len(), 150);
    assert_eq!(
        normalized(bodies.iter().map(String::as_str)),
        normalized(logged.iter().map(String::as_str)),
        "every alert delivered once"
    );
    assert_eq!(requests, logged.len());
    let stats = sinks.alert_stats("slow");
    assert!(
        stats.backpressured.load(Ordering::Relaxed) > 0,
        "back-pressure is counted"
    );
    assert_eq!(stats.undelivered.load(Ordering::Relaxed), 0);
    assert_eq!(
        capture.rows("big").len(),
        300,
        "the rows output is complete"
    );
}
