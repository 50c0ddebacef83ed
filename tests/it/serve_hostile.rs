//! `kvflow serve` against hostile clients, large keyspaces and unsafe settings: each test
//! pins a way the server was found to fail (issue 13).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvflow::workload::rng::Rng;
use redis::Commands;

use crate::support::serve::{RealRedis, Serve, have_tool, info_number, raw_exchange, run_to_exit};
use crate::support::{eventually, free_port, tmp};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One inline `PING` on a new connection: the reply, or `None` when the server did not
/// take the connection or answer within a second or two.
fn ping(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr(port), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"PING\r\n").ok()?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).ok()?;
    Some(String::from_utf8_lossy(&reply[..n]).into_owned())
}

/// Sends `request` on a new connection: the server must answer `reply` and close.
fn answered_and_closed(port: u16, request: &[u8], reply: &str) {
    let (answer, closed) = raw_exchange(port, request);
    assert_eq!(String::from_utf8_lossy(&answer), reply);
    assert!(closed, "the connection was left open");
}

/// Opens connections until `most` or until the server stops taking them (a full backlog).
fn hold_connections(port: u16, most: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    while held.len() < most {
        match TcpStream::connect_timeout(&addr(port), Duration::from_secs(1)) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    held
}

/// Opens connections that are answered until one is not (the server is out of
/// descriptors): the answered ones, and the one left waiting in the backlog.
fn exhaust_descriptors(port: u16) -> (Vec<TcpStream>, TcpStream) {
    let mut held = Vec::new();
    loop {
        let mut stream = TcpStream::connect(addr(port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 7];
        if stream.read_exact(&mut reply).is_err() {
            return (held, stream);
        }
        held.push(stream);
        assert!(
            held.len() < 64,
            "more clients answered than there are descriptors"
        );
    }
}

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
    if !have_tool("redis-cli") {
        return;
    }
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
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
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

#[test]
fn accepting_survives_running_out_of_descriptors() {
    let dir = tmp();
    let serve = Serve::start_with_open_files(64, &["--maxclients", "1000"], dir.path());
    let (mut held, mut waiting) = exhaust_descriptors(serve.port);
    assert!(held.len() > 16, "only {} clients were answered", held.len());
    // One descriptor comes free and no other client connects: the waiting one is served.
    drop(held.pop());
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = [0u8; 7];
    waiting
        .read_exact(&mut reply)
        .expect("the client waiting in the backlog was never served");
    assert_eq!(&reply, b"+PONG\r\n");
    // A burst that fills the backlog, then closes: new clients are served again.
    drop((held, waiting));
    drop(hold_connections(serve.port, 300));
    let reply = eventually("a PING answered after the burst", || ping(serve.port));
    assert_eq!(reply, "+PONG\r\n");
    let mut c = serve.client();
    assert!(info_number(&mut c, "accept_errors") > 0);
    let log = serve.log();
    assert!(log.contains("accept failed: Too many open files"), "{log}");
}

#[test]
fn maxclients_answers_as_redis() {
    let dir = tmp();
    let serve = Serve::start(&["--maxclients", "2"], dir.path());
    let mut first = serve.client();
    let second = serve.client();
    // Sends nothing: a request the server never reads could turn the close into a reset.
    answered_and_closed(serve.port, b"", "-ERR max number of clients reached\r\n");
    assert!(info_number(&mut first, "rejected_connections") >= 1);
    assert_eq!(info_number(&mut first, "maxclients"), 2);
    drop(second);
    let reply = eventually("a free place", || {
        ping(serve.port).filter(|r| r == "+PONG\r\n")
    });
    assert_eq!(reply, "+PONG\r\n");
}

#[test]
fn default_maxclients_follows_the_open_file_limit() {
    let dir = tmp();
    let serve = Serve::start_with_open_files(64, &[], dir.path());
    let mut c = serve.client();
    assert_eq!(info_number(&mut c, "maxclients"), 32);
    let mut others: Vec<TcpStream> = Vec::new();
    for _ in 0..31 {
        let mut stream = TcpStream::connect(addr(serve.port)).unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n");
        others.push(stream);
    }
    answered_and_closed(serve.port, b"", "-ERR max number of clients reached\r\n");
}

#[test]
fn a_large_request_before_auth_is_refused_and_not_buffered() {
    let dir = tmp();
    let serve = Serve::start(&["--requirepass", "secret"], dir.path());
    answered_and_closed(
        serve.port,
        b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$100000000\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    answered_and_closed(
        serve.port,
        b"*11\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    // Clients that go on sending the declared 100 MB: the server must not hold it.
    let before = serve.rss_kib();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr(serve.port)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$100000000\r\n");
        for _ in 0..32 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let mut c = serve.client_with_password("secret");
    let grown = serve.rss_kib().saturating_sub(before);
    assert!(grown < 16 << 10, "the server grew by {grown} KiB");
    assert!(info_number(&mut c, "unauthenticated_refused") >= 6);
    // Once authenticated, the same sizes are fine.
    let big = "x".repeat(100_000);
    let _: () = c.set("q", &big).unwrap();
    assert_eq!(c.get::<_, String>("q").unwrap(), big);
}

#[test]
fn unauthenticated_clients_are_counted() {
    let dir = tmp();
    let serve = Serve::start(&["--requirepass", "secret"], dir.path());
    let mut c = serve.client_with_password("secret");
    let mut first = TcpStream::connect(addr(serve.port)).unwrap();
    let second = TcpStream::connect(addr(serve.port)).unwrap();
    let count = |c: &mut redis::Connection| info_number(c, "unauthenticated_clients");
    eventually("two unauthenticated clients", || {
        (count(&mut c) == 2).then_some(())
    });
    first.write_all(b"AUTH secret\r\n").unwrap();
    let mut reply = [0u8; 5];
    first.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    assert_eq!(count(&mut c), 1);
    drop(second);
    eventually("no unauthenticated client", || {
        (count(&mut c) == 0).then_some(())
    });
}

#[test]
fn an_empty_password_is_refused() {
    let listen = format!("127.0.0.1:{}", free_port());
    let out = run_to_exit(&["serve", "--listen", &listen, "--requirepass", ""]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("--requirepass: the password is empty"),
        "{text}"
    );
}

/// A synced change carries an event time; one past the input range (which would wrap the
/// dataflow's time arithmetic) is refused, as a bad input line is.
#[test]
fn a_synced_change_out_of_the_event_time_range_is_refused() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut c = serve.client();
    let apply = |c: &mut redis::Connection, ts: &str| {
        redis::cmd("KVFLOW.APPLY")
            .arg(&["SET", "k", "v", ts, "node-b"][..])
            .query::<i64>(c)
            .map_err(|e| e.to_string())
    };
    for ts in ["253402300800000", "9223372036854775807", "-1"] {
        let error = apply(&mut c, ts).unwrap_err();
        assert!(
            error.contains("ts must be between 0 and 253402300799999"),
            "{error}"
        );
    }
    assert_eq!(apply(&mut c, "253402300799999"), Ok(1));
    let value: String = c.get("k").unwrap();
    assert_eq!(value, "v");
}
