//! `kvflow serve --data-dir`: no acknowledged write is lost. Clients that wait for every
//! reply (plain and pipelined) write while the server is killed with SIGKILL at seeded
//! moments; after each restart every acknowledged write must be there. A full disk gets
//! error replies, loses nothing acknowledged, and writes resume once space is freed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::serve::Serve;
use crate::support::tmpfs::Tmpfs;
use crate::support::{Rng, eventually};

/// A client's writes: op `i` sets `key(i)`, except every seventh deletes `key(i - 3)`.
struct Client {
    name: String,
    pipelined: bool,
}

enum Op {
    Set(String, String),
    Del(String),
}

impl Client {
    fn key(&self, i: usize) -> String {
        format!("{}:{i}", self.name)
    }

    fn op(&self, i: usize) -> Op {
        if i % 7 == 6 {
            Op::Del(self.key(i - 3))
        } else {
            Op::Set(self.key(i), format!("v{i}-{}", self.name))
        }
    }

    fn key_of(op: &Op) -> &str {
        match op {
            Op::Set(key, _) | Op::Del(key) => key,
        }
    }

    /// Writes until the server goes away; returns how many ops were acknowledged and how
    /// many more were sent without an answer.
    fn run(&self, port: u16, stop: &AtomicBool) -> (usize, usize) {
        let url = format!("redis://127.0.0.1:{port}/");
        let Ok(mut c) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
            return (0, 0);
        };
        let batch = if self.pipelined { 16 } else { 1 };
        let mut acked = 0;
        while !stop.load(Ordering::Relaxed) {
            let mut pipe = redis::pipe();
            for i in acked..acked + batch {
                match self.op(i) {
                    Op::Set(key, value) => pipe.set(key, value).ignore(),
                    Op::Del(key) => pipe.del(key).ignore(),
                };
            }
            if pipe.query::<()>(&mut c).is_err() {
                return (acked, batch);
            }
            acked += batch;
        }
        (acked, 0)
    }

    /// Folds the acknowledged ops into `expected`; keys an unanswered op touched become
    /// uncertain (either outcome is right).
    fn expect(&self, (acked, unanswered): (usize, usize), expected: &mut Expected) {
        for i in 0..acked {
            match self.op(i) {
                Op::Set(key, value) => expected.known.insert(key, Some(value)),
                Op::Del(key) => expected.known.insert(key, None),
            };
        }
        for i in acked..acked + unanswered {
            let op = self.op(i);
            expected.known.remove(Client::key_of(&op));
            expected.uncertain.push(Client::key_of(&op).to_string());
        }
    }
}

#[derive(Default)]
struct Expected {
    known: BTreeMap<String, Option<String>>,
    uncertain: Vec<String>,
}

/// Every acknowledged write's key holds what the last acknowledged write left.
fn check(serve: &Serve, expected: &Expected, trial: usize) {
    let mut c = serve.client();
    let keys: Vec<&String> = expected.known.keys().collect();
    for chunk in keys.chunks(1000) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        for (key, value) in chunk.iter().zip(values) {
            assert_eq!(
                &value, &expected.known[*key],
                "trial {trial}: key {key} after the restart"
            );
        }
    }
}

/// `trials` rounds of: start, four clients write, SIGKILL at a seeded moment, restart and
/// check every acknowledged write of every round so far.
fn kill_nine_rounds(extra: &[&str], trials: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let mut args = vec!["--data-dir", data.as_str()];
    args.extend_from_slice(extra);
    let mut moments = Rng::new(seed);
    let mut expected = Expected::default();
    let mut acknowledged = 0;
    for trial in 0..trials {
        let mut serve = Serve::start(&args, dir.path());
        if trial > 0 {
            check(&serve, &expected, trial);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|n| {
                let client = Client {
                    name: format!("t{trial}c{n}"),
                    pipelined: n % 2 == 1,
                };
                let (port, stop) = (serve.port, stop.clone());
                std::thread::spawn(move || {
                    let outcome = client.run(port, &stop);
                    (client, outcome)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(moments.range(150, 699) as u64));
        serve.child.kill().unwrap();
        serve.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for handle in clients {
            let (client, outcome) = handle.join().unwrap();
            acknowledged += outcome.0;
            client.expect(outcome, &mut expected);
        }
    }
    let serve = Serve::start(&args, dir.path());
    check(&serve, &expected, trials);
    assert!(
        acknowledged > trials * 50,
        "the clients got too few writes in to test anything: {acknowledged}"
    );
    eprintln!(
        "{acknowledged} acknowledged writes over {trials} kills, {} uncertain",
        expected.uncertain.len()
    );
}

#[test]
fn sigkill_loses_no_acknowledged_write_with_fsync_always() {
    kill_nine_rounds(&["--fsync", "always", "-w", "2"], 10, 0x5eed_0001);
}

/// `interval:N` answers once the write reached the OS: a killed process loses nothing
/// acknowledged (only a machine crash can lose the last N ms).
#[test]
fn sigkill_loses_no_acknowledged_write_with_fsync_interval() {
    kill_nine_rounds(&["--fsync", "interval:10"], 6, 0x5eed_0002);
}

fn set(c: &mut redis::Connection, key: &str, value: &str) -> Result<(), String> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(c)
        .map_err(|e| e.to_string())
}

#[test]
fn a_full_disk_gets_error_replies_and_loses_no_acknowledged_write() {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(mount_point.path(), "size=4m") else {
        return;
    };
    let ballast = disk.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 3 << 20]).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let data = disk.path().join("data").display().to_string();
    let args = ["--data-dir", data.as_str(), "--fsync", "always"];
    let mut serve = Serve::start(&args, logs.path());
    let mut c = serve.client();
    let value = "x".repeat(1000);
    let mut acked = Vec::new();
    let first_error = loop {
        let key = format!("k{}", acked.len());
        match set(&mut c, &key, &value) {
            Ok(()) => acked.push(key),
            Err(error) => break error,
        }
        assert!(acked.len() < 10_000, "the disk never filled up");
    };
    assert!(
        first_error.contains("IOERR") || first_error.contains("MISCONF"),
        "{first_error}"
    );
    let refused = set(&mut c, "refused", "1").unwrap_err();
    assert!(refused.contains("MISCONF"), "{refused}");
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    let read: String = redis::cmd("GET").arg(&acked[0]).query(&mut c).unwrap();
    assert_eq!(read, value, "reads go on while writes are refused");
    assert!(
        serve.log().contains("cannot write its log"),
        "{}",
        serve.log()
    );

    std::fs::remove_file(&ballast).unwrap();
    eventually("writes to resume after space was freed", || {
        set(&mut c, "after", "1").ok()
    });
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_last_write_status:ok"), "{info}");
    drop(c);
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();

    let serve = Serve::start(&args, logs.path());
    let mut c = serve.client();
    for key in &acked {
        let read: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        assert_eq!(
            read.as_deref(),
            Some(value.as_str()),
            "{key} after the restart"
        );
    }
    let after: Option<String> = redis::cmd("GET").arg("after").query(&mut c).unwrap();
    assert_eq!(after.as_deref(), Some("1"));
    eprintln!("{} writes acknowledged before the disk filled", acked.len());
}
