//! The latency from a client's `SET` to its row in a dataflow's file sink, at a steady rate.
//!
//! Starts `kvflow serve dataflows/serve/sets_log.toml --output DIR` (optionally with
//! `--data-dir`), sends `SET lat:<i> <send time in µs>` at `RATE` sets per second (one
//! pipelined group every millisecond) for `SECONDS`, and tails `DIR/sets.jsonl`: each row
//! carries its send time, so its latency is the time it was read minus that. Prints p50,
//! p99 and the maximum, leaving out the first half second (warm-up).
//!
//! ```sh
//! cargo build --release && cargo run --release --example serve_latency -- \
//!     [--bin target/release/kvflow] [--rate 50000] [--seconds 5] [--data-dir] [-- SERVE ARGS]
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Options {
    bin: PathBuf,
    rate: u64,
    seconds: u64,
    durable: bool,
    /// Arguments after `--`, passed to `kvflow serve`.
    serve_args: Vec<String>,
}

fn options() -> Options {
    let mut options = Options {
        bin: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/kvflow"),
        rate: 50_000,
        seconds: 5,
        durable: false,
        serve_args: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--bin" => options.bin = PathBuf::from(next),
            "--rate" => options.rate = next.parse().expect("--rate N"),
            "--seconds" => options.seconds = next.parse().expect("--seconds N"),
            "--data-dir" => {
                options.durable = true;
                i -= 1;
            }
            "--" => {
                options.serve_args = args[i + 1..].to_vec();
                break;
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    options
}

fn main() {
    let options = options();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let flow = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dataflows/serve/sets_log.toml");
    let mut command = Command::new(&options.bin);
    command
        .arg("serve")
        .arg(&flow)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::null());
    if options.durable {
        command.arg("--data-dir").arg(dir.path().join("data"));
    }
    command.args(&options.serve_args);
    let mut server = command
        .spawn()
        .expect("start kvflow serve (build it first)");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
    let mut connection = loop {
        if let Ok(c) = client.get_connection() {
            break c;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let epoch = Instant::now();
    let total = options.rate * options.seconds;
    let reader = {
        let path = out.join("sets.jsonl");
        std::thread::spawn(move || tail_latencies(&path, total, epoch))
    };
    send_steadily(&mut connection, &options, epoch);
    let mut latencies = reader.join().expect("reader");
    let _ = server.kill();
    let _ = server.wait();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "SET -> file sink row at {} sets/s for {} s{}: {} rows, p50 {:.2} ms, p99 {:.2} ms, \
         max {:.2} ms",
        options.rate,
        options.seconds,
        if options.durable { " (--data-dir)" } else { "" },
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// One pipelined group of `rate / 1000` sets every millisecond.
fn send_steadily(connection: &mut redis::Connection, options: &Options, epoch: Instant) {
    let per_ms = (options.rate / 1000).max(1);
    let mut sent = 0u64;
    let total = options.rate * options.seconds;
    let mut tick = 0u64;
    while sent < total {
        let due = Duration::from_millis(tick);
        let now = epoch.elapsed();
        if now < due {
            std::thread::sleep(due - now);
        }
        let mut pipe = redis::pipe();
        let stamp = epoch.elapsed().as_micros() as u64;
        for _ in 0..per_ms.min(total - sent) {
            pipe.cmd("SET")
                .arg(format!("lat:{}", sent % 100_000))
                .arg(stamp)
                .ignore();
            sent += 1;
        }
        let _: () = pipe.query(connection).expect("SET");
        tick += 1;
    }
}

/// Reads rows as they are appended; returns each row's latency in µs (after warm-up).
fn tail_latencies(path: &std::path::Path, total: u64, epoch: Instant) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(total as usize);
    let mut seen = 0u64;
    let mut partial = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut file = loop {
        match std::fs::File::open(path) {
            Ok(file) => break file,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(200)),
            Err(e) => panic!("no output {}: {e}", path.display()),
        }
    };
    let mut chunk = String::new();
    while seen < total && Instant::now() < deadline {
        chunk.clear();
        let read = file.read_to_string(&mut chunk).unwrap_or(0);
        if read == 0 {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        let now = epoch.elapsed().as_micros() as u64;
        partial.push_str(&chunk);
        let complete = partial.rfind('\n').map_or(0, |i| i + 1);
        for line in partial[..complete].lines() {
            seen += 1;
            let sent = line
                .rsplit("\"value\":")
                .next()
                .and_then(|v| v.trim_end_matches('}').parse::<u64>().ok());
            if let Some(sent) = sent.filter(|s| *s >= 500_000) {
                latencies.push(now.saturating_sub(sent));
            }
        }
        partial.drain(..complete);
    }
    latencies
}
