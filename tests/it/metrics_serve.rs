//! `serve --metrics`: the server's own figures on `/metrics` and the `INFO` sections for
//! commands, sinks and alerts, checked against the commands the test sent, the connections
//! it holds and what a real redis-server (the sync target) holds.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};
use redis::Commands;

use crate::metrics::scrape;
use crate::metrics_sinks::sample;
use crate::support::serve::{RealRedis, Serve};
use crate::support::{eventually, free_port, tmp};

fn flow(target_port: u16) -> String {
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
name = "mirror"
keys = ["^k"]
target = {{ kind = "redis", url = "redis://127.0.0.1:{target_port}/" }}
batch_timeout_ms = 5
"#
    )
}

/// The fields of `INFO`'s line `name:a=1,b=2`.
fn info_fields(info: &str, name: &str) -> BTreeMap<String, String> {
    let prefix = format!("{name}:");
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no line {name} in INFO:\n{info}"));
    line.split(',')
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn server_figures_and_info_sections_match_what_was_sent() {
    let Some(target) = RealRedis::start() else {
        return;
    };
    let dir = tmp();
    let path = dir.path().join("flow.toml");
    std::fs::write(&path, flow(target.port)).unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let serve = Serve::start(&[path.to_str().unwrap(), "--metrics", &metrics], dir.path());
    let url = format!("http://{metrics}/metrics");
    let (mut writer, mut reader) = (serve.client(), serve.client());
    let keys = 200u64;
    for i in 0..keys {
        let _: () = writer
            .set(format!("k{i}"), format!("{{\"v\":{}}}", i % 100))
            .unwrap();
    }
    let gets = 7;
    for i in 0..gets {
        let _: Option<String> = reader.get(format!("k{i}")).unwrap();
    }
    let big = (0..keys).filter(|i| i % 100 >= 90).count() as u64;
    let mut mirror = target.client();
    // The target holds every key once the sync delivered them, and the alert saw every row.
    let info = eventually("the sync and the alert to catch up", || {
        let info: String = redis::cmd("INFO").query(&mut reader).unwrap();
        let sync = info_fields(&info, "sync_mirror");
        let alert = info_fields(&info, "alert_big_value");
        let seen = |f: &BTreeMap<String, String>, k: &str| f[k].parse::<u64>().unwrap();
        let alerts = seen(&alert, "fired") + seen(&alert, "suppressed");
        (seen(&sync, "delivered") == keys && seen(&sync, "queued") == 0 && alerts == big)
            .then_some(info)
    });
    let held: Vec<String> = mirror.keys("k*").unwrap();
    let sync = info_fields(&info, "sync_mirror");
    assert_eq!(
        sync["delivered"],
        held.len().to_string(),
        "delivered = held"
    );
    assert_eq!(
        (sync["healthy"].as_str(), sync["active"].as_str()),
        ("1", "primary")
    );
    let sets = info_fields(&info, "cmdstat_set");
    assert_eq!(sets["calls"], keys.to_string());
    assert_eq!(info_fields(&info, "cmdstat_get")["calls"], gets.to_string());

    let seen = scrape(&url);
    let command = |name| {
        sample(
            &seen,
            "kvflow_server_command_calls_total",
            Some(("command", name)),
        )
    };
    assert_eq!(command("set"), Some(keys as f64));
    assert_eq!(command("get"), Some(gets as f64));
    assert_eq!(sample(&seen, "kvflow_server_keys", None), Some(keys as f64));
    assert_eq!(
        sample(&seen, "kvflow_server_connected_clients", None),
        Some(2.0)
    );
    assert_eq!(
        sample(&seen, "kvflow_server_blocked_clients", None),
        Some(0.0)
    );
    let target_label = Some(("target", "mirror"));
    assert_eq!(
        sample(&seen, "kvflow_sync_delivered_rows_total", target_label),
        Some(keys as f64)
    );
    assert!(sample(&seen, "process_resident_memory_bytes", None).is_some_and(|b| b > 1e6));
    // A blocking XREAD on another connection is a follower while it waits.
    let follower = std::thread::spawn({
        let mut follower = serve.client();
        move || {
            let _: redis::Value = redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(20_000)
                .arg("STREAMS")
                .arg("__changes")
                .arg("$")
                .query(&mut follower)
                .unwrap();
        }
    });
    eventually("a blocked follower", || {
        let seen = scrape(&url);
        (sample(&seen, "kvflow_server_blocked_clients", None) == Some(1.0)).then_some(())
    });
    let _: () = writer.set("wake", "1").unwrap();
    follower.join().unwrap();
}

fn shard_value(scrape: &Scrape, metric: &str, shard: usize) -> Option<f64> {
    sample(scrape, metric, Some(("shard", shard.to_string().as_str())))
}

/// The bytes of the log segments of `DATA/shard-<k>`, read from the directory.
fn shard_bytes(data: &std::path::Path, k: usize) -> f64 {
    std::fs::read_dir(data.join(format!("shard-{k}")))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len() as f64)
        .sum()
}

/// With a data directory: the keys each shard holds, each shard's log bytes against the
/// files on disk, the fsyncs of `--fsync always` and the checkpoint's age.
#[test]
fn a_durable_server_reports_its_store_and_logs() {
    let dir = tmp();
    let data = dir.path().join("data");
    let metrics = format!("127.0.0.1:{}", free_port());
    let serve = Serve::start(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--fsync",
            "always",
            "--checkpoint-every",
            "50",
            "-w",
            "2",
            "--metrics",
            &metrics,
        ],
        dir.path(),
    );
    let url = format!("http://{metrics}/metrics");
    let mut client = serve.client();
    let (writes, keys) = (400u64, 120u64);
    for i in 0..writes {
        let _: () = client.set(format!("k{}", i % keys), i).unwrap();
    }
    let _: () = client.del("k0").unwrap();
    // Every write is logged before it is answered; the shards hold the keys once they applied
    // their batches.
    let seen = eventually("the store and the logs to settle", || {
        let seen = scrape(&url);
        let held: f64 = (0..2)
            .filter_map(|k| shard_value(&seen, "kvflow_store_keys", k))
            .sum();
        let logged: Vec<Option<f64>> = (0..2)
            .map(|k| shard_value(&seen, "kvflow_wal_bytes", k))
            .collect();
        let on_disk: Vec<Option<f64>> = (0..2).map(|k| Some(shard_bytes(&data, k))).collect();
        let checkpointed = sample(&seen, "kvflow_checkpoint_age_seconds", None).is_some();
        (held == (keys - 1) as f64 && logged == on_disk && checkpointed).then_some(seen)
    });
    assert!(
        (0..2).all(|k| shard_bytes(&data, k) > 0.0),
        "both shards logged"
    );
    let fsyncs = seen
        .samples
        .iter()
        .find(|s| s.metric == "kvflow_wal_fsync_seconds")
        .map(|s| s.value.clone());
    assert!(
        matches!(&fsyncs, Some(Value::Histogram(h)) if h.last().is_some_and(|b| b.count >= 1.0)),
        "fsyncs under --fsync always: {fsyncs:?}"
    );
    let age = sample(&seen, "kvflow_checkpoint_age_seconds", None).unwrap();
    assert!((0.0..600.0).contains(&age), "checkpoint age {age}");
}
