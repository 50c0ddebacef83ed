//! `kvflow watch --follow` against a running `kvflow serve`: changes appear in order as they
//! are logged, across shards and segment roll-overs; the last token printed resumes exactly
//! after it; SIGINT, SIGTERM and a closed output stop it cleanly.
//!
//! The oracle: the server gives each write the next seq, and the kind follows from whether
//! the key held a value (a `DEL` of a missing key writes nothing).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::support::{free_port, kvflow};

const WAIT: Duration = Duration::from_secs(20);

/// Sends `signal` (`INT`, `TERM`) to a child.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{signal} failed");
}

/// Waits for a child to exit, killing it after `WAIT`.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("{what} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `kvflow serve` on a data directory, with two shards and small segments.
struct Serve {
    child: Child,
    client: TcpStream,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        let port = free_port();
        let mut child = kvflow()
            .args([
                "serve",
                "-w",
                "2",
                "--segment-bytes",
                "300",
                "--fsync",
                "never",
            ])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kvflow serve");
        let start = Instant::now();
        let client = loop {
            if let Ok(client) = TcpStream::connect(("127.0.0.1", port)) {
                break client;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("kvflow serve exited before listening: {status}");
            }
            assert!(start.elapsed() < WAIT, "kvflow serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        };
        client.set_read_timeout(Some(WAIT)).expect("read timeout");
        Serve { child, client }
    }

    /// Sends one command and reads its one-line reply (answered once logged).
    fn command(&mut self, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.client
            .write_all(request.as_bytes())
            .expect("send command");
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            self.client.read_exact(&mut byte).expect("reply");
            reply.push(byte[0]);
        }
        String::from_utf8(reply).expect("UTF-8 reply")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        signal(&self.child, "TERM");
        wait_exit(&mut self.child, "kvflow serve");
    }
}

/// One change as `watch` prints it, without the time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    seq: u64,
    kind: String,
    key: String,
    value: serde_json::Value,
    old: serde_json::Value,
}

fn parse(line: &str) -> (String, Change) {
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    let seq = json["seq"].as_u64().expect("seq");
    let shard = json["shard"].as_u64().expect("shard");
    let token = json["token"].as_str().expect("token").to_string();
    assert_eq!(token, format!("{shard}:{seq}"));
    assert!(shard < 2, "two shards");
    let change = Change {
        seq,
        kind: json["kind"].as_str().expect("kind").to_string(),
        key: json["key"].as_str().expect("key").to_string(),
        value: json["value"].clone(),
        old: json["old"].clone(),
    };
    (token, change)
}

/// The writes of the test and the changes they make, as the server numbers them.
#[derive(Default)]
struct Oracle {
    table: BTreeMap<String, String>,
    next_seq: u64,
}

impl Oracle {
    /// Runs `SET key value` (`value: None`: `DEL key`) on the server and returns the change
    /// it makes, if any.
    fn write(&mut self, serve: &mut Serve, key: &str, value: Option<&str>) -> Option<Change> {
        let old = self.table.get(key).cloned();
        let kind = match (value, &old) {
            (Some(value), _) => {
                assert_eq!(serve.command(&["SET", key, value]), "+OK\r\n");
                self.table.insert(key.to_string(), value.to_string());
                if old.is_some() { "update" } else { "insert" }
            }
            (None, Some(_)) => {
                assert_eq!(serve.command(&["DEL", key]), ":1\r\n");
                self.table.remove(key);
                "delete"
            }
            (None, None) => {
                assert_eq!(serve.command(&["DEL", key]), ":0\r\n");
                return None;
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let text = |v: Option<&str>| v.map_or(serde_json::Value::Null, serde_json::Value::from);
        Some(Change {
            seq,
            kind: kind.to_string(),
            key: key.to_string(),
            value: text(value),
            old: text(old.as_deref()),
        })
    }

    /// A round of writes over keys k0..k6 (sets, updates, deletes, deletes of missing keys).
    fn round(&mut self, serve: &mut Serve, round: usize, writes: usize) -> Vec<Change> {
        (0..writes)
            .filter_map(|i| {
                let key = format!("k{}", (i * 3 + round) % 7);
                let value = format!("r{round}-{i}");
                let delete = (i + round) % 4 == 3;
                self.write(serve, &key, (!delete).then_some(value.as_str()))
            })
            .collect()
    }
}

/// `kvflow watch` on `dir` with `args`, its stdout read line by line on a thread.
struct Watch {
    child: Child,
    lines: Receiver<String>,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = spawn_watch(dir, args);
        let stdout = child.stdout.take().expect("stdout");
        Watch {
            child,
            lines: read_lines(stdout),
        }
    }

    /// The next `n` changes printed, with their tokens, waiting for each.
    fn next(&self, n: usize) -> (Vec<String>, Vec<Change>) {
        (0..n)
            .map(|i| match self.lines.recv_timeout(WAIT) {
                Ok(line) => parse(&line),
                Err(e) => panic!("change {} of {n} was not printed: {e}", i + 1),
            })
            .unzip()
    }

    /// Stops it with `signal`; it exits successfully having printed nothing more.
    fn stop(mut self, with: &str) {
        signal(&self.child, with);
        let status = wait_exit(&mut self.child, "kvflow watch");
        assert!(status.success(), "watch stopped by SIG{with}: {status}");
        let rest: Vec<String> = self.lines.try_iter().collect();
        assert_eq!(
            rest,
            Vec::<String>::new(),
            "nothing printed after the changes"
        );
    }
}

/// `kvflow watch --data-dir dir args`, its stdout a pipe.
fn spawn_watch(dir: &Path, args: &[&str]) -> Child {
    kvflow()
        .arg("watch")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kvflow watch")
}

fn read_lines(stdout: ChildStdout) -> Receiver<String> {
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Nothing was printed beyond the changes read so far: one more write (round `round`) is the
/// very next thing printed. Returns its tokens and change.
fn assert_nothing_more(
    watch: &Watch,
    (serve, oracle): (&mut Serve, &mut Oracle),
    round: usize,
) -> (Vec<String>, Vec<Change>) {
    let marker = oracle.round(serve, round, 1);
    let got = watch.next(marker.len());
    assert_eq!(got.1, marker, "the next write is the next line printed");
    got
}

#[test]
fn follow_prints_changes_in_order_and_resumes_after_its_last_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = Serve::start(&data);
    let mut oracle = Oracle::default();
    let mut expected = oracle.round(&mut serve, 0, 10);

    let watch = Watch::start(&data, &["--follow"]);
    let (_, printed) = watch.next(expected.len());
    assert_eq!(printed, expected, "the changes logged before watch started");
    for round in 1..4 {
        expected = oracle.round(&mut serve, round, 15);
        let (_, printed) = watch.next(expected.len());
        assert_eq!(printed, expected, "round {round}, printed as it is logged");
    }
    let more = oracle.round(&mut serve, 4, 6);
    assert_eq!(watch.next(more.len()).1, more);
    let (tokens, printed) = assert_nothing_more(&watch, (&mut serve, &mut oracle), 40);
    watch.stop("INT");
    let last = tokens.last().expect("a token").clone();
    assert_eq!(printed.last().map(|c| c.seq), Some(oracle.next_seq - 1));
    let segments = std::fs::read_dir(data.join("shard-0"))
        .expect("shard dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("wal-"))
        })
        .count();
    assert!(
        segments > 2,
        "the log rolled over to new segments ({segments})"
    );

    let rest = oracle.round(&mut serve, 5, 12);
    let resumed = Watch::start(&data, &["--from", &last]);
    let (_, printed) = resumed.next(rest.len());
    assert_eq!(
        printed, rest,
        "watch --from the last token: exactly the rest"
    );
    let status = wait_exit(&mut { resumed.child }, "kvflow watch");
    assert!(status.success());

    let followed = Watch::start(&data, &["--follow", "--from", &last]);
    let (_, printed) = followed.next(rest.len());
    assert_eq!(
        printed, rest,
        "watch --follow --from the last token: exactly the rest"
    );
    let more = oracle.round(&mut serve, 6, 9);
    let (_, printed) = followed.next(more.len());
    assert_eq!(printed, more, "and what is logged after");
    assert_nothing_more(&followed, (&mut serve, &mut oracle), 60);
    followed.stop("TERM");
}

#[test]
fn follow_ends_when_its_output_is_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut serve = Serve::start(&data);
    let mut oracle = Oracle::default();
    let expected = oracle.round(&mut serve, 0, 3);
    let mut child = spawn_watch(&data, &["--follow"]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert_eq!(parse(line.trim_end()).1, expected[0]);
    // The reader goes away while nothing new is logged (as `watch --follow | head -1`).
    drop(stdout);
    let status = wait_exit(&mut child, "kvflow watch with a closed output");
    assert!(status.success(), "{status}");
}
