//! Sync sink throughput and latency against the Redis and PostgreSQL of this machine.
//!
//! ```sh
//! cargo run --release --example sync_bench            # all figures
//! cargo run --release --example sync_bench -- quick   # fewer rows
//! cargo run --release --example sync_bench -- server-time  # the versioned Redis sink's
//!                                                         # server time per row, by command
//! ```
//!
//! 1. Rows/s delivered by the sync sink's delivery path (queue, batching, target, conflict
//!    policy) at batch sizes 1, 100 and 1000, beside the client library's own best bulk
//!    write of the same rows: pipelined `SET`s for Redis, one multi-row
//!    `INSERT ... ON CONFLICT DO UPDATE` per batch for PostgreSQL. Sink and bulk runs
//!    alternate, so each ratio compares figures taken under the same load. A row "no sink"
//!    measures what any versioned Redis write costs at least (read and write the versions
//!    beside the values, without a script): the ceiling of the versioned sink.
//! 2. End-to-end latency from a mutation written to the input (a FIFO read by a running
//!    dataflow) to its key being set in Redis (a keyspace notification), p50/p99, at a
//!    steady 10K mutations/s.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvflow::dataflow_file::load_str;
use kvflow::plan::sinks::{BatchConfig, HealthConfig, SyncConfig, SyncSource, TargetConfig};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::capture::Capture;
use kvflow::sinks::delivery::queue::{self, Deliver};
use kvflow::sinks::delivery::retry::RetryConfig;
use kvflow::sinks::sync::conflict::ConflictPolicy;
use kvflow::sinks::sync::{DeliveryOutputs, SyncDelivery, SyncOp, SyncStats};
use kvflow::sinks::{OutputFactory, OutputKind};

const REDIS: &str = "redis://127.0.0.1:6379/";
const POSTGRES: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

fn ops(n: usize) -> Vec<SyncOp> {
    (0..n)
        .map(|i| SyncOp {
            key: format!("k{i}"),
            value: Some(format!(
                r#"{{"user_id":"user_{}","amount":{},"status":"paid","item":"item_{}"}}"#,
                i % 1000,
                i % 500,
                i % 97
            )),
            ts: 1_700_000_000_000 + i as u64,
            origin: "bench".into(),
        })
        .collect()
}

fn config(target: TargetConfig, batch: usize, policy: ConflictPolicy) -> SyncConfig {
    SyncConfig {
        name: "bench".into(),
        source: SyncSource::Table { keys: Vec::new() },
        target,
        standby: None,
        policy,
        conflict_log: false,
        origin: "bench".into(),
        target_origin: None,
        batch: BatchConfig {
            size: batch,
            timeout: Duration::from_millis(5),
        },
        queue: 10_000.max(batch),
        tombstone_retention: None,
        retry: RetryConfig::default(),
        health: HealthConfig::default(),
    }
}

/// Rows/s through the sink's queue and delivery thread.
fn sink_rate(config: &SyncConfig, rows: &[SyncOp]) -> f64 {
    let capture = Capture::new();
    let outputs = DeliveryOutputs {
        dead_letter: capture.open("dead", OutputKind::Rows),
        errors: capture.open("errors", OutputKind::Rows),
        conflicts: None,
    };
    let stats = Arc::new(SyncStats::default());
    let mut deliver = SyncDelivery::new(config, 0, outputs, stats.clone());
    // Connect (and create a table) before the clock starts, as a running sink would have.
    deliver.deliver(Vec::new());
    let (sender, thread) =
        queue::spawn("bench", config.queue, config.batch, deliver).expect("thread");
    // The sink operator moves each time's changes into the queue; so does this.
    let chunks: Vec<Vec<SyncOp>> = rows
        .chunks(config.batch.size.max(1))
        .map(<[SyncOp]>::to_vec)
        .collect();
    let started = Instant::now();
    for chunk in chunks {
        sender.send(chunk);
    }
    sender.finish();
    thread.join().expect("join");
    let elapsed = started.elapsed();
    assert_eq!(SyncStats::get(&stats.dead_lettered), 0, "sink lost rows");
    rows.len() as f64 / elapsed.as_secs_f64()
}

fn redis_clear(prefix: &str) {
    let mut c = redis::Client::open(REDIS)
        .and_then(|c| c.get_connection())
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut c)
        .expect("keys");
    for chunk in keys.chunks(10_000) {
        let _: () = redis::cmd("DEL").arg(chunk).query(&mut c).expect("del");
    }
}

/// Rows/s of pipelined SETs, one pipeline per `batch` rows.
fn redis_baseline(prefix: &str, rows: &[SyncOp], batch: usize) -> f64 {
    let mut c = redis::Client::open(REDIS)
        .and_then(|c| c.get_connection())
        .expect("redis");
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut pipe = redis::pipe();
        for op in chunk {
            pipe.cmd("SET")
                .arg(format!("{prefix}{}", op.key))
                .arg(op.value.as_deref().unwrap_or(""))
                .ignore();
        }
        let _: () = pipe.query(&mut c).expect("pipeline");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

/// Rows/s of the least a versioned write does, without a script and not atomic: per batch
/// one pipeline of `HMGET` of the versions, `MSET` of the values and `HSET` of the versions.
/// Not a sink: the ceiling any versioned Redis sink can reach with versions in a hash.
fn redis_versions_floor(prefix: &str, rows: &[SyncOp], batch: usize) -> f64 {
    let mut c = redis::Client::open(REDIS)
        .and_then(|c| c.get_connection())
        .expect("redis");
    let versions = format!("{prefix}__kvflow_versions");
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let (mut read, mut values, mut stamps) =
            (redis::cmd("HMGET"), redis::cmd("MSET"), redis::cmd("HSET"));
        read.arg(&versions);
        stamps.arg(&versions);
        for op in chunk {
            let key = format!("{prefix}{}", op.key);
            read.arg(&key);
            values.arg(&key).arg(op.value.as_deref().unwrap_or(""));
            stamps.arg(&key).arg(format!("{} {}", op.ts, op.origin));
        }
        let mut pipe = redis::pipe();
        pipe.add_command(read).ignore();
        pipe.add_command(values).ignore();
        pipe.add_command(stamps).ignore();
        let _: () = pipe.query(&mut c).expect("pipeline");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

fn pg_reset(table: &str) -> postgres::Client {
    let mut c = postgres::Client::connect(POSTGRES, postgres::NoTls).expect("postgres");
    c.batch_execute(&format!("DROP TABLE IF EXISTS {table} CASCADE"))
        .expect("drop");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (key text PRIMARY KEY, value jsonb, ts bigint NOT NULL, origin text NOT NULL)"
    ))
    .expect("create");
    c
}

/// Rows/s of one multi-row `INSERT ... ON CONFLICT DO UPDATE` (VALUES lists) per batch.
fn pg_baseline(table: &str, rows: &[SyncOp], batch: usize) -> f64 {
    let mut c = pg_reset(table);
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut sql = format!("INSERT INTO {table} (key, value, ts, origin) VALUES ");
        let mut params: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        for (i, op) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let n = i * 4;
            sql.push_str(&format!(
                "(${}, ${}::text::jsonb, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
            params.push(Box::new(op.key.clone()));
            params.push(Box::new(op.value.clone().unwrap_or_default()));
            params.push(Box::new(op.ts as i64));
            params.push(Box::new(op.origin.to_string()));
        }
        sql.push_str(
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts, origin = EXCLUDED.origin",
        );
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref()).collect();
        c.execute(&sql, &refs).expect("insert");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

/// The best of `repeat` measurements of each of `sink` and `bulk`, taken in turns so that
/// both see the same load (this machine's cores are shared): their ratio is a same-run one.
fn best_pair(
    repeat: usize,
    mut sink: impl FnMut() -> f64,
    mut bulk: impl FnMut() -> f64,
) -> (f64, f64) {
    (0..repeat).fold((0.0, 0.0), |(s, b), _| (s.max(sink()), b.max(bulk())))
}

fn throughput(quick: bool) {
    println!("## Throughput (rows/s, best of 3; sink and bulk measured in turns)\n");
    println!("| target | batch | rows | sync sink | client bulk write | sink / bulk |");
    println!("|---|---:|---:|---:|---:|---:|");
    for batch in [1usize, 100, 1000] {
        let n = match (batch, quick) {
            (1, true) => 1_000,
            (1, false) => 5_000,
            (_, true) => 50_000,
            (_, false) => 100_000,
        };
        let rows = ops(n);
        for (label, versions, policy) in [
            (
                "redis, versions (last-writer-wins)",
                true,
                ConflictPolicy::LastWriterWins,
            ),
            (
                "redis, plain SET (source-wins)",
                false,
                ConflictPolicy::SourceWins,
            ),
        ] {
            let prefix = "kvflow-bench:";
            let target = TargetConfig::Redis {
                url: REDIS.into(),
                prefix: prefix.into(),
                versions,
            };
            let (sink, bulk) = best_pair(
                3,
                || {
                    redis_clear(prefix);
                    sink_rate(&config(target.clone(), batch, policy), &rows)
                },
                || {
                    redis_clear(prefix);
                    redis_baseline(prefix, &rows, batch)
                },
            );
            println!(
                "| {label} | {batch} | {n} | {sink:.0} | {bulk:.0} | {:.0}% |",
                100.0 * sink / bulk
            );
        }
        let prefix = "kvflow-bench:";
        let (floor, bulk) = best_pair(
            3,
            || {
                redis_clear(prefix);
                redis_versions_floor(prefix, &rows, batch)
            },
            || {
                redis_clear(prefix);
                redis_baseline(prefix, &rows, batch)
            },
        );
        println!(
            "| redis, no sink: HMGET+MSET+HSET, no script, not atomic | {batch} | {n} | {floor:.0} | {bulk:.0} | {:.0}% |",
            100.0 * floor / bulk
        );
        redis_clear(prefix);
        let table = "kvflow_bench";
        let target = TargetConfig::Postgres {
            url: POSTGRES.into(),
            table: table.into(),
        };
        let (sink, bulk) = best_pair(
            3,
            || {
                drop(pg_reset(table));
                sink_rate(
                    &config(target.clone(), batch, ConflictPolicy::LastWriterWins),
                    &rows,
                )
            },
            || pg_baseline(table, &rows, batch),
        );
        println!(
            "| postgres (last-writer-wins) | {batch} | {n} | {sink:.0} | {bulk:.0} | {:.0}% |",
            100.0 * sink / bulk
        );
    }
    drop(pg_reset("kvflow_bench"));
}

/// Sends `rate` mutations/s for `seconds` into a FIFO a running dataflow reads; the dataflow
/// syncs the table to Redis; a keyspace subscriber notes when each key is set.
fn latency(rate: u64, seconds: u64) {
    let prefix = "kvflow-lat:";
    redis_clear(prefix);
    let mut admin = redis::Client::open(REDIS)
        .and_then(|c| c.get_connection())
        .expect("redis");
    let previous: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut admin)
        .expect("config");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("K$")
        .query(&mut admin)
        .expect("config");
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("input.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let text = format!(
        "[[sync]]\nname = \"lat\"\nkeys = [\"^m\"]\ntarget = {{ kind = \"redis\", url = \"{REDIS}\", prefix = \"{prefix}\" }}\nbatch_size = 1000\nbatch_timeout_ms = 1\n"
    );
    let plan = Arc::new(
        load_str(&text, "lat.toml", std::path::Path::new("."))
            .expect("plan")
            .plan,
    );
    let received: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let subscriber = {
        let (received, stop) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = redis::Client::open(REDIS)
                .and_then(|c| c.get_connection())
                .expect("redis");
            c.set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            let mut pubsub = c.as_pubsub();
            pubsub
                .psubscribe(format!("__keyspace@0__:{prefix}*"))
                .expect("psubscribe");
            while !stop.load(Ordering::Relaxed) {
                if let Ok(message) = pubsub.get_message() {
                    let at = Instant::now();
                    let channel = message.get_channel_name().to_string();
                    if let Some(n) = channel
                        .rsplit('m')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        received.lock().unwrap().entry(n).or_insert(at);
                    }
                }
            }
        })
    };
    let runner = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let options = RunOptions::default().batch_ms(10);
            run(
                plan,
                InputSource::Jsonl(fifo),
                options,
                Arc::new(Capture::new()),
            )
            .expect("run");
        })
    };
    let mut input = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("fifo");
    let total = rate * seconds;
    let mut sent = Vec::with_capacity(total as usize);
    let started = Instant::now();
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    for i in 0..total {
        let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let ts = epoch.as_millis() as u64 + started.elapsed().as_millis() as u64;
        let line =
            format!("{{\"ts\":{ts},\"op\":\"put\",\"key\":\"m{i}\",\"value\":{{\"n\":{i}}}}}\n");
        let at = Instant::now();
        input.write_all(line.as_bytes()).expect("write");
        input.flush().expect("flush");
        sent.push(at);
    }
    drop(input);
    runner.join().expect("run");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    subscriber.join().expect("subscriber");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg(previous.get(1).cloned().unwrap_or_default())
        .query(&mut admin)
        .expect("config");
    let received = received.lock().unwrap();
    let mut latencies: Vec<f64> = sent
        .iter()
        .enumerate()
        .filter_map(|(i, at)| {
            received
                .get(&(i as u64))
                .map(|r| r.duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "\n## End-to-end latency (mutation in -> key set in Redis), {rate} mutations/s for {seconds} s, --batch-ms 10\n"
    );
    println!(
        "seen {} of {total}; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    redis_clear(prefix);
}

/// Total `usec` and `calls` of `command` in Redis' `INFO commandstats`.
fn command_stats(c: &mut redis::Connection, command: &str) -> (f64, f64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(c)
        .expect("INFO");
    let prefix = format!("cmdstat_{command}:");
    let line = info.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
    let field = |name: &str| {
        line.and_then(|l| l.split(',').find_map(|f| f.strip_prefix(name)))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field("usec="), field("calls="))
}

/// Where a versioned batch's time goes on the server: the versioned sink alone at batch
/// 1000, the server time per row of the script and of the commands it calls, beside the
/// pipelined `SET`s of the same rows (`INFO commandstats` deltas, counting all clients).
fn server_time() {
    let rows = ops(100_000);
    let prefix = "kvflow-bench:";
    let target = TargetConfig::Redis {
        url: REDIS.into(),
        prefix: prefix.into(),
        versions: true,
    };
    let mut admin = redis::Client::open(REDIS)
        .and_then(|c| c.get_connection())
        .expect("redis");
    let commands = ["evalsha", "hmget", "mset", "hset"];
    println!("## Server time of the versioned sink, batch 1000, 100000 rows (us per row)\n");
    println!(
        "| run | sink rows/s | EVALSHA (whole script) | HMGET | MSET | HSET | script's own | bulk rows/s | SET (bulk) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in 1..=3 {
        redis_clear(prefix);
        let before: Vec<(f64, f64)> = commands
            .iter()
            .map(|c| command_stats(&mut admin, c))
            .collect();
        let rate = sink_rate(
            &config(target.clone(), 1000, ConflictPolicy::LastWriterWins),
            &rows,
        );
        let per_row: Vec<f64> = commands
            .iter()
            .zip(&before)
            .map(|(c, b)| (command_stats(&mut admin, c).0 - b.0) / rows.len() as f64)
            .collect();
        let own = per_row[0] - per_row[1..].iter().sum::<f64>();
        redis_clear(prefix);
        let set_before = command_stats(&mut admin, "set").0;
        let bulk = redis_baseline(prefix, &rows, 1000);
        let set = (command_stats(&mut admin, "set").0 - set_before) / rows.len() as f64;
        println!(
            "| {run} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {own:.2} | {bulk:.0} | {set:.2} |",
            per_row[0], per_row[1], per_row[2], per_row[3]
        );
    }
    redis_clear(prefix);
}

fn main() {
    if std::env::args().any(|a| a == "server-time") {
        return server_time();
    }
    let quick = std::env::args().any(|a| a == "quick");
    throughput(quick);
    latency(10_000, if quick { 3 } else { 10 });
}
