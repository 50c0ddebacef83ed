//! Two `kvflow serve` nodes that sync each other (a `[[sync]]` of the live table to a kvflow
//! target, both ways, each with its `--node-id`): writes on either side reach the other;
//! concurrent writes to the same keys on both sides converge to one state under
//! last-writer-wins; and nothing loops (once writes stop, marker keys sent back and forth
//! are the only changes on either node).
//! Plain-text values read back on the peer exactly as they were set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::Commands;

use crate::support::serve::Serve;
use crate::support::{eventually, free_port, tmp};

type State = BTreeMap<String, String>;

fn sync_file(dir: &Path, me: &str, peer: &str, peer_port: u16) -> PathBuf {
    let path = dir.join(format!("sync_{me}.toml"));
    let text = format!(
        "[[sync]]\nname = \"to_{peer}\"\nkeys = [\"^k\"]\n\
         target = {{ kind = \"kvflow\", url = \"redis://127.0.0.1:{peer_port}/\" }}\n\
         origin = \"{me}\"\ntarget_origin = \"{peer}\"\nbatch_timeout_ms = 5\n"
    );
    std::fs::write(&path, text).expect("write dataflow file");
    path
}

fn client(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("connect")
}

/// Every synced key and its value, the markers of [`settle`] left out.
fn state(c: &mut redis::Connection) -> State {
    let mut keys: Vec<String> = c.keys("k*").expect("KEYS");
    keys.retain(|k| !k.starts_with(MARKER));
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            let v: Option<String> = c.get(&k).expect("GET");
            v.map(|v| (k, v))
        })
        .collect()
}

/// Waits until both nodes hold the same state once [`settle`]d.
fn converged(a: &mut redis::Connection, b: &mut redis::Connection) -> State {
    eventually("the nodes to converge", || {
        settle(a, b);
        let (sa, sb) = (state(a), state(b));
        (sa == sb).then_some(sa)
    })
}

/// The prefix of the marker keys (synced, as they start with `k`).
const MARKER: &str = "kz-marker";

/// Sets a marker key on `a` and waits until it reached `b`, then one on `b` until it reached
/// `a`, then one on `a` again. Each node's sync hands its changes over in order, so then both
/// syncs are past every write made before, and past the markers' own echoes (which origins
/// stop): each marker makes exactly one change on each node.
fn settle(a: &mut redis::Connection, b: &mut redis::Connection) {
    static ROUNDS: AtomicUsize = AtomicUsize::new(0);
    let round = ROUNDS.fetch_add(1, Ordering::Relaxed);
    let (mut writer, mut reader) = (a, b);
    for hop in 0..3 {
        let (key, value) = (format!("{MARKER}{hop}"), format!("{round}"));
        let _: () = writer.set(&key, &value).expect("SET");
        eventually(&format!("{key} = {value} on the other node"), || {
            let seen: Option<String> = reader.get(&key).expect("GET");
            (seen.as_deref() == Some(value.as_str())).then_some(())
        });
        std::mem::swap(&mut writer, &mut reader);
    }
}

fn changes(c: &mut redis::Connection) -> usize {
    let reply: redis::Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(1_000_000)
        .arg("STREAMS")
        .arg("__changes")
        .arg("0")
        .query(c)
        .expect("XREAD");
    match reply {
        redis::Value::Array(streams) | redis::Value::Set(streams) => match streams.first() {
            Some(redis::Value::Array(stream)) => match stream.get(1) {
                Some(redis::Value::Array(entries)) => entries.len(),
                _ => 0,
            },
            _ => 0,
        },
        redis::Value::Map(streams) => match streams.first() {
            Some((_, redis::Value::Array(entries))) => entries.len(),
            _ => 0,
        },
        _ => 0,
    }
}

fn value(n: usize, by: &str) -> String {
    format!("{{\"by\":\"{by}\",\"n\":{n}}}")
}

#[test]
fn two_nodes_syncing_each_other_converge_without_loops() {
    let dir = tmp();
    let (port_a, port_b) = (free_port(), free_port());
    let file_a = sync_file(dir.path(), "a", "b", port_b);
    let file_b = sync_file(dir.path(), "b", "a", port_a);
    let node = |port: u16, id: &str, file: &Path| {
        let file = file.to_str().expect("path");
        Serve::start_on(port, &["--node-id", id, file], dir.path())
    };
    let _a = node(port_a, "a", &file_a);
    let _b = node(port_b, "b", &file_b);
    let (mut a, mut b) = (client(port_a), client(port_b));

    // One side at a time: every write reaches the other node.
    let mut expected = State::new();
    for n in 0..50 {
        let _: () = a.set(format!("k{n:03}"), value(n, "a")).expect("SET");
        expected.insert(format!("k{n:03}"), value(n, "a"));
    }
    assert_eq!(converged(&mut a, &mut b), expected);
    for n in 0..25 {
        let _: () = b.set(format!("k{n:03}"), value(n + 100, "b")).expect("SET");
        expected.insert(format!("k{n:03}"), value(n + 100, "b"));
    }
    for n in 25..30 {
        let _: () = b.del(format!("k{n:03}")).expect("DEL");
        expected.remove(&format!("k{n:03}"));
    }
    assert_eq!(converged(&mut a, &mut b), expected);

    // Both sides at once, on the same keys: one state, each key holding one side's write.
    let writer = |port: u16, by: &'static str| {
        std::thread::spawn(move || {
            let mut c = client(port);
            for round in 0..20usize {
                for n in 100..150usize {
                    let key = format!("k{n:03}");
                    if (n + round).is_multiple_of(7) {
                        let _: () = c.del(&key).expect("DEL");
                    } else {
                        let _: () = c.set(&key, value(round, by)).expect("SET");
                    }
                }
            }
        })
    };
    let (wa, wb) = (writer(port_a, "a"), writer(port_b, "b"));
    wa.join().expect("writer a");
    wb.join().expect("writer b");
    let end = converged(&mut a, &mut b);
    for (key, v) in end.iter().filter(|(k, _)| k.as_str() >= "k100") {
        let n: usize = key[1..].parse().expect("key number");
        let candidates: Vec<String> = (0..20)
            .filter(|round| !(n + round).is_multiple_of(7))
            .flat_map(|round| [value(round, "a"), value(round, "b")])
            .collect();
        assert!(
            candidates.contains(v),
            "{key} holds {v}, which nobody wrote"
        );
    }
    assert!(
        end.keys().any(|k| k.as_str() >= "k100"),
        "the concurrent keys are gone"
    );

    // No loops: once settled, each marker makes one change on each node, and nothing else.
    let before = (changes(&mut a), changes(&mut b));
    settle(&mut a, &mut b);
    assert_eq!(
        (changes(&mut a), changes(&mut b)),
        (before.0 + 3, before.1 + 3),
        "changes keep flowing"
    );
}

/// Values set as plain text (not JSON) on one node read back on the other as they were set,
/// whatever the node makes of them (strings, numbers, JSON documents).
#[test]
fn plain_text_values_read_back_on_the_peer_as_set() {
    let dir = tmp();
    let (port_a, port_b) = (free_port(), free_port());
    let file_a = sync_file(dir.path(), "a", "b", port_b);
    let file_b = sync_file(dir.path(), "b", "a", port_a);
    let node = |port: u16, id: &str, file: &Path| {
        let file = file.to_str().expect("path");
        Serve::start_on(port, &["--node-id", id, file], dir.path())
    };
    let _a = node(port_a, "a", &file_a);
    let _b = node(port_b, "b", &file_b);
    let (mut a, mut b) = (client(port_a), client(port_b));
    let texts = [
        "abc",
        "hello world",
        "042",
        "\"quoted\"",
        "say \"hi\"\n",
        "42",
        "1.50",
        "true",
        "null",
        "{\"a\":1}",
        "[1,2]",
        "ünïcødé",
    ];
    let mut expected = State::new();
    for (i, text) in texts.iter().enumerate() {
        let key = format!("k{i:03}");
        let _: () = a.set(&key, *text).expect("SET");
        expected.insert(key, text.to_string());
    }
    assert_eq!(converged(&mut a, &mut b), expected);
    let _: () = b.set("k100", "from b").expect("SET");
    expected.insert("k100".into(), "from b".into());
    assert_eq!(converged(&mut a, &mut b), expected);
}
