//! A target that goes away mid-run: the sink retries, back-pressures, and converges with
//! nothing lost once the target is back. Also: failover to a standby and back.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use kvflow::sinks::external::ExternalSinks;

use super::common::*;
use super::proxy::Proxy;
use crate::support::poll;

/// Waits (bounded) until `done()`, polling every millisecond: the failover test restores
/// the primary as soon as the standby took its first write.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    poll(what, Duration::from_millis(1), || done().then_some(()));
}

#[test]
fn a_redis_that_drops_mid_run_converges_with_nothing_lost() {
    let Some(mut redis) = redis() else { return };
    let prefix = "kvflow-test:outage:";
    redis_clear(&mut redis, prefix);
    // Cut after ~20 KB of commands: well inside the run's traffic.
    let proxy = Proxy::start(&redis_address(), 20_000);
    let input = mutations(4, 4000, 300, 3);
    let text = format!(
        r#"
[[sync]]
name = "outage"
keys = ["^k"]
target = {{ kind = "redis", url = "redis://127.0.0.1:{}/", prefix = "{prefix}" }}
batch_size = 16
queue = 64
max_retries = 100000
retry_delay_ms = 2
retry_cap_ms = 20
timeout_ms = 500
"#,
        proxy.port
    );
    let expected = final_table(&input);
    let sinks = ExternalSinks::new();
    let stats = sinks.sync_stats("outage");
    let run = thread::spawn(move || run_with(&text, input, 2, sinks));
    wait_until("the proxy to cut the target", || !proxy.is_up());
    // The sink now fails and retries; let it fail a few times before the target returns.
    wait_until("five failed deliveries", || {
        stats.failures.load(Ordering::Relaxed) >= 5
    });
    // The target is down: unhealthy, and the batch being retried is still queued.
    assert!(stats.failing.load(Ordering::Relaxed), "unhealthy while cut");
    assert!(stats.queued.load(Ordering::Relaxed) > 0, "a batch waits");
    proxy.restore();
    let (_, capture, sinks) = run.join().expect("run");
    let stats = sinks.sync_stats("outage");
    assert!(
        stats.failures.load(Ordering::Relaxed) > 0,
        "the cut was seen"
    );
    assert!(!stats.failing.load(Ordering::Relaxed), "healthy once back");
    assert_eq!(
        stats.queued.load(Ordering::Relaxed),
        0,
        "nothing left queued"
    );
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);
    assert!(
        capture
            .sorted("outage", kvflow::sinks::OutputKind::Errors)
            .is_empty()
    );
    assert_eq!(redis_state(&mut redis, prefix), expected);
}

#[test]
fn exhausted_retries_go_to_the_dead_letter_output_and_the_error_output() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let input = mutations(5, 50, 10, 3);
    let text = format!(
        r#"
[[sync]]
name = "dead"
keys = ["^k"]
target = {{ kind = "redis", url = "redis://127.0.0.1:{port}/", prefix = "x:" }}
max_retries = 2
retry_delay_ms = 1
retry_cap_ms = 2
timeout_ms = 200
"#
    );
    let (_, capture, sinks) = run_text(&text, input.clone(), 1);
    let stats = sinks.sync_stats("dead");
    let dead = capture.sorted("dead.dead-letter", kvflow::sinks::OutputKind::Rows);
    // Each time's changes, last per key, all given up: as many as the sink sent.
    assert_eq!(
        dead.len() as u64,
        stats.dead_lettered.load(Ordering::Relaxed)
    );
    assert!(!dead.is_empty());
    let keys: std::collections::BTreeSet<String> = dead
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["key"]
                .as_str()
                .expect("key")
                .to_string()
        })
        .collect();
    let input_keys: std::collections::BTreeSet<String> =
        input.iter().map(|m| m.key.to_string()).collect();
    assert_eq!(keys, input_keys);
    let errors = capture.sorted("dead", kvflow::sinks::OutputKind::Errors);
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|e| e.contains("dead-letter")));
    assert_eq!(
        stats.retries.load(Ordering::Relaxed),
        2 * errors.len() as u64
    );
}

#[test]
fn a_failed_primary_fails_over_to_the_standby_and_back() {
    let Some(mut redis) = redis() else { return };
    let redis_url = redis_url();
    let (primary_prefix, standby_prefix) = ("kvflow-test:primary:", "kvflow-test:standby:");
    redis_clear(&mut redis, primary_prefix);
    redis_clear(&mut redis, standby_prefix);
    let proxy = Proxy::start(&redis_address(), 20_000);
    let input = mutations(6, 4000, 300, 3);
    let text = format!(
        r#"
[[sync]]
name = "failover"
keys = ["^k"]
target = {{ kind = "redis", url = "redis://127.0.0.1:{}/", prefix = "{primary_prefix}" }}
standby = {{ kind = "redis", url = "{redis_url}", prefix = "{standby_prefix}" }}
batch_size = 16
queue = 64
max_retries = 100000
retry_delay_ms = 1
retry_cap_ms = 5
health_failures = 2
health_interval_ms = 20
timeout_ms = 500
"#,
        proxy.port
    );
    let expected = final_table(&input);
    let sinks = ExternalSinks::new();
    let stats = sinks.sync_stats("failover");
    let run = thread::spawn(move || run_with(&text, input, 1, sinks));
    wait_until("the proxy to cut the target", || !proxy.is_up());
    // Restore the primary only once the sink has switched and written to the standby.
    wait_until("a failover", || stats.failovers.load(Ordering::Relaxed) > 0);
    wait_until("a write to the standby", || {
        !redis_state(&mut redis, standby_prefix).is_empty()
    });
    assert!(
        stats.on_standby.load(Ordering::Relaxed),
        "the standby is active"
    );
    proxy.restore();
    let _ = run.join().expect("run");
    assert!(
        !stats.on_standby.load(Ordering::Relaxed),
        "back on the primary"
    );
    assert_eq!(
        stats.queued.load(Ordering::Relaxed),
        0,
        "nothing left queued"
    );
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failovers.load(Ordering::Relaxed), 1);
    assert_eq!(stats.switchbacks.load(Ordering::Relaxed), 1);
    // The primary caught up with what the standby took meanwhile.
    assert_eq!(redis_state(&mut redis, primary_prefix), expected);
}
