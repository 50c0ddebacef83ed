//! `kvflow serve` against hostile clients, large keyspaces and unsafe settings: each test
//! pins a way the server was found to fail (issue 13).

mod serve_support;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvflow::workload::rng::Rng;
use redis::Commands;
use serve_support::{RealRedis, Serve, require_tool, tmp};

/// Writes `keys` as `k:<i>` = `v`.
fn load_keys(c: &mut redis::Connection, keys: usize) {
    for start in (0..keys).step_by(10_000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 10_000).min(keys) {
            pipe.set(format!("k:{i}"), "v").ignore();
        }
        let _: () = pipe.query(c).unwrap();
    }
}

/// One scan in progress and what the oracle knows about it.
struct ScanRun {
    cursor: u64,
    done: bool,
    start: HashSet<String>,
    seen: HashSet<String>,
}

/// Two scans interleaved with seeded inserts and deletes over 100K keys: a key present for
/// the whole of a scan is returned by it, and every key returned existed at some point.
#[test]
fn scan_keeps_its_guarantees_under_concurrent_writes() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut c = serve.client();
    load_keys(&mut c, 100_000);
    let initial: HashSet<String> = (0..100_000).map(|i| format!("k:{i}")).collect();
    let mut ever = initial.clone();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut rng = Rng::new(6, 13);
    let mut runs: Vec<ScanRun> = Vec::new();
    let mut next_new = 0;
    while runs.len() < 2 || runs.iter().any(|r| !r.done) {
        if runs.len() < 2 && (runs.is_empty() || rng.percent(2)) {
            let start: HashSet<String> = c.keys("*").unwrap();
            runs.push(ScanRun {
                cursor: 0,
                done: false,
                start,
                seen: HashSet::new(),
            });
        }
        for run in runs.iter_mut().filter(|r| !r.done) {
            let count = rng.range(10, 200);
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(run.cursor)
                .arg("COUNT")
                .arg(count)
                .query(&mut c)
                .unwrap();
            run.seen.extend(page);
            run.cursor = next;
            run.done = next == 0;
        }
        for _ in 0..rng.below(10) {
            if rng.percent(50) {
                let key = format!("k:{}", rng.below(100_000));
                let _: i64 = c.del(&key).unwrap();
                deleted.insert(key);
            } else {
                let key = format!("new:{next_new}");
                next_new += 1;
                let _: () = c.set(&key, "v").unwrap();
                ever.insert(key);
            }
        }
    }
    for run in &runs {
        let missed: Vec<&String> = run
            .start
            .iter()
            .filter(|k| !deleted.contains(*k) && !run.seen.contains(*k))
            .collect();
        assert!(
            missed.is_empty(),
            "{} keys missed, e.g. {:?}",
            missed.len(),
            missed.first()
        );
        let invented: Vec<&String> = run.seen.iter().filter(|k| !ever.contains(*k)).collect();
        assert!(invented.is_empty(), "keys that never existed: {invented:?}");
    }
}

/// `redis-cli --scan` pages through 100K keys (10 a call) and returns each of them. (It ran
/// for minutes when each call sorted the whole keyspace; the deadline only stops a hang.)
#[test]
fn redis_cli_scan_returns_every_key() {
    require_tool("redis-cli");
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut c = serve.client();
    load_keys(&mut c, 100_000);
    let mut cli = Command::new("redis-cli")
        .args(["-p", &serve.port.to_string(), "--scan"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    let mut stdout = cli.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let start = Instant::now();
    while cli.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = cli.kill();
            panic!("redis-cli --scan over 100K keys had not finished after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = reader.join().unwrap().unwrap();
    let scanned: Vec<&str> = text.lines().collect();
    let unique: HashSet<&str> = scanned.iter().copied().collect();
    assert_eq!(unique.len(), scanned.len(), "a key was returned twice");
    let all: HashSet<String> = c.keys("*").unwrap();
    assert_eq!(all.len(), 100_000);
    assert!(all.iter().all(|k| unique.contains(k.as_str())));
    assert_eq!(unique.len(), all.len());
}

/// Whether a command is accepted (any reply but an error).
fn accepted(c: &mut redis::Connection, cmd: &redis::Cmd) -> bool {
    cmd.query::<redis::Value>(c).is_ok()
}

/// `EXPIRE`/`PEXPIRE` accept exactly the amounts `SET EX`/`SET PX` accept, and both agree
/// with redis-server (a deadline is a signed 64-bit count of milliseconds).
#[test]
fn expire_accepts_what_set_ex_accepts() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let redis = RealRedis::start();
    let mut servers = [("kvflow", serve.client()), ("redis-server", redis.client())];
    let amounts: [i64; 7] = [
        1,
        100_000_000,
        9_223_372_036_854,
        9_223_372_036_854_775,
        9_223_372_036_854_775 * 100,
        i64::MAX / 2,
        i64::MAX,
    ];
    let mut answers: Vec<Vec<bool>> = vec![Vec::new(); servers.len()];
    for (server, (name, c)) in servers.iter_mut().enumerate() {
        for amount in amounts {
            for (option, command) in [("EX", "EXPIRE"), ("PX", "PEXPIRE")] {
                let set = accepted(
                    c,
                    redis::cmd("SET").arg("a").arg("v").arg(option).arg(amount),
                );
                let _: () = c.set("b", "v").unwrap();
                let expire = accepted(c, redis::cmd(command).arg("b").arg(amount));
                assert_eq!(set, expire, "{name}: SET {option} {amount} vs {command}");
                answers[server].push(set);
            }
        }
    }
    assert_eq!(answers[0], answers[1], "kvflow and redis-server disagree");
}
