//! What a restarted `kvflow serve --data-dir` rebuilds besides its keys: the last-writer-wins
//! versions of `--node-id` (an older synced write stays refused, a delete's tombstone stays),
//! and every key after retention cut the log (restored from the floor snapshots plus the log
//! after them), both against the values the test wrote.

use std::collections::BTreeMap;

use redis::Commands;

use crate::support::serve::Serve;
use crate::support::tmp;

fn apply_set(c: &mut redis::Connection, key: &str, value: &str, ts: u64, origin: &str) -> i64 {
    redis::cmd("KVFLOW.APPLY")
        .arg("SET")
        .arg(key)
        .arg(value)
        .arg(ts)
        .arg(origin)
        .query(c)
        .expect("KVFLOW.APPLY SET")
}

fn apply_del(c: &mut redis::Connection, key: &str, ts: u64, origin: &str) -> i64 {
    redis::cmd("KVFLOW.APPLY")
        .arg("DEL")
        .arg(key)
        .arg(ts)
        .arg(origin)
        .query(c)
        .expect("KVFLOW.APPLY DEL")
}

#[test]
fn a_restarted_node_keeps_its_last_writer_wins_versions_and_tombstones() {
    let dir = tmp();
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let args = ["--node-id", "a", "--data-dir", data];
    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    assert_eq!(apply_set(&mut c, "k1", "new", 5_000, "b"), 1);
    assert_eq!(apply_set(&mut c, "k1", "older", 4_000, "c"), 0);
    assert_eq!(apply_set(&mut c, "k2", "v", 100, "b"), 1);
    assert_eq!(apply_del(&mut c, "k2", 6_000, "b"), 1);
    drop(c);
    assert!(serve.terminate().success());

    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    assert_eq!(apply_set(&mut c, "k1", "older", 4_000, "c"), 0);
    assert_eq!(apply_set(&mut c, "k2", "zombie", 5_000, "c"), 0);
    let (k1, k2): (Option<String>, Option<String>) = (c.get("k1").unwrap(), c.get("k2").unwrap());
    assert_eq!((k1.as_deref(), k2), (Some("new"), None));
    assert_eq!(apply_set(&mut c, "k1", "newest", 7_000, "c"), 1);
    let k1: Option<String> = c.get("k1").unwrap();
    assert_eq!(k1.as_deref(), Some("newest"));
}

#[test]
fn a_server_restarts_past_its_retention_floor_with_every_key() {
    let dir = tmp();
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let args = [
        "--data-dir",
        data,
        "--segment-bytes",
        "8KiB",
        "--retain-bytes",
        "16KiB",
        "--snapshot-every",
        "500",
        "--checkpoint-every",
        "300",
    ];
    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let mut expected = BTreeMap::new();
    for i in 0..6_000u64 {
        let key = format!("k{}", i * 7 % 400);
        if i % 13 == 0 {
            let _: i64 = c.del(&key).unwrap();
            expected.remove(&key);
        } else {
            let _: () = c.set(&key, format!("v{i}")).unwrap();
            expected.insert(key, format!("v{i}"));
        }
    }
    drop(c);
    assert!(serve.terminate().success());
    let floor = std::fs::read_to_string(dir.path().join("data/shard-0/floor"))
        .expect("retention cut the log");
    assert!(floor.trim().parse::<u64>().expect("a seq") > 0);

    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let mut keys: Vec<String> = c.keys("k*").unwrap();
    keys.sort();
    let actual: BTreeMap<String, String> = keys
        .into_iter()
        .map(|k| {
            let v: String = c.get(&k).unwrap();
            (k, v)
        })
        .collect();
    assert_eq!(actual, expected, "{}", serve.log());
}
