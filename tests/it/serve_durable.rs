//! `kvflow serve --data-dir`: what survives a restart. XREAD resumes with the last id a
//! client saw; SIGTERM leaves every acknowledged write in the WAL.

use redis::{Commands, Value};

use crate::support::serve::Serve;
use crate::support::{eventually, kvflow};

/// The entries of an XREAD reply as (id, fields).
fn entries(reply: Value) -> Vec<(String, Vec<String>)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    };
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stream in streams {
        let Value::Array(pair) = stream else { continue };
        let Some(Value::Array(items)) = pair.get(1) else {
            continue;
        };
        for item in items {
            let Value::Array(entry) = item else { continue };
            let fields = match entry.get(1) {
                Some(Value::Array(fields)) => fields.iter().map(text).collect(),
                _ => Vec::new(),
            };
            out.push((text(&entry[0]), fields));
        }
    }
    out
}

/// A temporary directory and the `--data-dir` value inside it.
fn data_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    (dir, data)
}

fn read_after(c: &mut redis::Connection, id: &str) -> Vec<(String, Vec<String>)> {
    let reply: Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(1000)
        .arg("STREAMS")
        .arg("__changes")
        .arg(id)
        .query(c)
        .unwrap();
    entries(reply)
}

#[test]
fn xread_resumes_after_a_restart() {
    let (dir, data_arg) = data_dir();
    let args = ["--data-dir", data_arg.as_str()];
    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    for i in 0..40 {
        let _: () = c.set(format!("k{}", i % 15), i).unwrap();
    }
    let _: i64 = c.del("k3").unwrap();
    let before = read_after(&mut c, "0");
    assert_eq!(before.len(), 41);
    assert_eq!(before[0].1, ["kind", "insert", "key", "k0", "new", "0"]);
    assert_eq!(
        before[20].1,
        ["kind", "update", "key", "k5", "old", "5", "new", "20"]
    );
    assert_eq!(before[40].1, ["kind", "delete", "key", "k3", "old", "33"]);
    drop(c);
    assert!(serve.terminate().success());

    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let resume_id = before[24].0.clone();
    assert_eq!(read_after(&mut c, &resume_id), before[25..].to_vec());
    assert_eq!(read_after(&mut c, "0"), before);
    let _: () = c.set("k0", "new").unwrap();
    let after = read_after(&mut c, &before[40].0);
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].1,
        ["kind", "update", "key", "k0", "old", "30", "new", "new"]
    );
    // The log (before the restart) and memory (after it) read as one stream.
    let all = read_after(&mut c, "0");
    assert_eq!(all[..41], before[..]);
    assert_eq!(all[41..], after[..]);
    let blocked: Value = redis::cmd("XREAD")
        .arg("BLOCK")
        .arg(50)
        .arg("STREAMS")
        .arg("__changes")
        .arg("$")
        .query(&mut c)
        .unwrap();
    assert_eq!(blocked, Value::Nil);
}

/// Pipelined writes, SIGTERM right after the last acknowledgement: a restarted server (and
/// `kvflow watch`) sees every one of them.
#[test]
fn sigterm_keeps_every_acknowledged_write() {
    let (dir, data_arg) = data_dir();
    let args = ["--data-dir", data_arg.as_str()];
    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let n = 20_000;
    for chunk in 0..20 {
        let mut pipe = redis::pipe();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            pipe.set(format!("key:{i}"), format!("v{i}")).ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    assert!(serve.terminate().success());

    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, n);
    for i in (0..n).step_by(997) {
        let v: String = c.get(format!("key:{i}")).unwrap();
        assert_eq!(v, format!("v{i}"));
    }
    drop(c);
    assert!(serve.terminate().success());
    let watch = kvflow()
        .args(["watch", "--data-dir", &data_arg])
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&watch.stdout).lines().count();
    assert_eq!(lines as i64, n);
}

/// TTLs survive a restart: kept, replaced by a plain SET, removed by PERSIST, and a key
/// whose deadline passes after the restart expires with a delete event.
#[test]
fn expiries_survive_a_restart() {
    let (dir, data_arg) = data_dir();
    let args = ["--data-dir", data_arg.as_str()];
    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let set = |c: &mut redis::Connection, args: &[&str]| {
        let _: Value = redis::cmd("SET").arg(args).query(c).unwrap();
    };
    set(&mut c, &["kept", "1", "EX", "1000"]);
    set(&mut c, &["soon", "2", "PX", "1500"]);
    set(&mut c, &["plain", "3"]);
    let _: i64 = c.expire("plain", 1000).unwrap();
    set(&mut c, &["replaced", "4", "EX", "1000"]);
    set(&mut c, &["replaced", "5"]);
    set(&mut c, &["persisted", "6", "EX", "1000"]);
    let _: i64 = c.persist("persisted").unwrap();
    drop(c);
    assert!(serve.terminate().success());

    let serve = Serve::start(&args, dir.path());
    let mut c = serve.client();
    let ttl = |c: &mut redis::Connection, key: &str| -> i64 { c.ttl(key).unwrap() };
    assert!((990..=1000).contains(&ttl(&mut c, "kept")));
    assert!((990..=1000).contains(&ttl(&mut c, "plain")));
    assert_eq!(ttl(&mut c, "replaced"), -1);
    assert_eq!(ttl(&mut c, "persisted"), -1);
    eventually("`soon` to expire", || {
        (c.exists::<_, i64>("soon").unwrap() == 0).then_some(())
    });
    let changes = read_after(&mut c, "0");
    let last = changes.last().unwrap();
    assert_eq!(last.1, ["kind", "delete", "key", "soon", "old", "2"]);
}
