//! `kvflow serve` driven as a user drives it: the real binary on a free port, the `redis`
//! crate, `redis-cli`, `redis-benchmark`, raw sockets; protocol errors compared with a real
//! `redis-server`.

use std::collections::BTreeMap;
use std::process::Command;

use redis::{Commands, Value};

use crate::support::serve::{RealRedis, Serve, have_tool, raw_exchange};
use crate::support::{eventually, kvflow, repo, tmp};

#[test]
fn string_commands_round_trip() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut c = serve.client();
    let _: () = c.set("a", "1").unwrap();
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    assert_eq!(c.incr::<_, _, i64>("a", 41).unwrap(), 42);
    assert_eq!(c.append::<_, _, i64>("a", "x").unwrap(), 3);
    assert_eq!(c.strlen::<_, i64>("a").unwrap(), 3);
    let _: () = c.mset(&[("b", "2"), ("c", "3")]).unwrap();
    let got: Vec<Option<String>> = c.mget(&["a", "b", "nope", "c"]).unwrap();
    assert_eq!(
        got,
        vec![Some("42x".into()), Some("2".into()), None, Some("3".into())]
    );
    let nx: Value = redis::cmd("SET")
        .arg("b")
        .arg("9")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, Value::Nil);
    let old: String = redis::cmd("SET")
        .arg("b")
        .arg("9")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, "2");
    assert_eq!(c.del::<_, i64>(&["b", "c", "nope"]).unwrap(), 2);
    assert_eq!(c.exists::<_, i64>("b").unwrap(), 0);
    let deleted: String = redis::cmd("GETDEL").arg("a").query(&mut c).unwrap();
    assert_eq!(deleted, "42x");
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0);
    let err = redis::cmd("INCR")
        .arg("x")
        .arg("y")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'incr' command")
    );
}

#[test]
fn redis_cli_talks_to_it() {
    if !have_tool("redis-cli") {
        return;
    }
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &serve.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "user_1", "{\"name\":\"ada\"}"]), "OK");
    assert_eq!(cli(&["GET", "user_1"]), "{\"name\":\"ada\"}");
    assert_eq!(cli(&["TYPE", "user_1"]), "string");
    assert_eq!(
        cli(&["NOSUCH", "a", "b"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b'"
    );
    assert!(cli(&["INFO", "kvflow"]).contains("events_in:"));
}

/// Malformed requests get the bytes a real redis-server sends, and the connection closes.
#[test]
fn protocol_errors_match_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let cases: &[&[u8]] = &[
        b"*1\r\n+PING\r\n",
        b"*x\r\n",
        b"*1\r\n$-3\r\n",
        b"*1\r\n$abc\r\n",
        b"SET a \"b\r\n",
        b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n:1\r\n",
    ];
    for case in cases {
        let ours = raw_exchange(serve.port, case);
        let theirs = raw_exchange(redis.port, case);
        assert_eq!(
            String::from_utf8_lossy(&ours.0),
            String::from_utf8_lossy(&theirs.0),
            "reply to {:?}",
            String::from_utf8_lossy(case)
        );
        assert!(ours.1, "connection left open after {case:?}");
    }
}

#[test]
fn redis_benchmark_runs_against_it() {
    if !have_tool("redis-benchmark") {
        return;
    }
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &serve.port.to_string(),
            "-q",
            "-t",
            "set,get,incr,mset",
        ])
        .args(["-n", "20000", "-c", "200", "-P", "8", "-r", "1000"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("requests per second").count(), 4, "{text}");
    let mut c = serve.client();
    let keys: Vec<String> = c.keys("key:*").unwrap();
    assert!(
        !keys.is_empty() && keys.len() <= 1000,
        "{} keys",
        keys.len()
    );
    // Every INCR of the run landed: the counters add up to the number of requests.
    let counters: Vec<String> = c.keys("counter:*").unwrap();
    let total: i64 = counters.iter().map(|k| c.get::<_, i64>(k).unwrap()).sum();
    assert_eq!(total, 20000);
}

/// A dataflow's file output and its view keys follow the writes; the expected totals are
/// recomputed here from the writes themselves.
#[test]
fn dataflow_output_and_views_follow_writes() {
    let dir = tmp();
    let out = dir.path().join("out");
    let flow = repo("dataflows/serve/orders.toml");
    let serve = Serve::start(
        &[
            flow.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--view",
            "orders_per_user",
        ],
        dir.path(),
    );
    let mut c = serve.client();
    let mut orders: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for i in 0..60u64 {
        let id = format!("order:{}", i % 17);
        let user = ["ada", "bob", "cy"][(i * 7 % 3) as usize].to_string();
        let amount = (i * 13 % 50) as i64;
        let _: () = c
            .set(&id, format!("{{\"user\":\"{user}\",\"amount\":{amount}}}"))
            .unwrap();
        orders.insert(id, (user, amount));
    }
    let _: i64 = c.del("order:3").unwrap();
    orders.remove("order:3");
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (user, amount) in orders.values() {
        let entry = expected.entry(user.clone()).or_default();
        entry.0 += 1;
        entry.1 += amount;
    }
    for (user, (count, total)) in &expected {
        let want = format!("{{\"customer\":\"{user}\",\"orders\":{count},\"total\":{total}}}");
        let key = format!("view:orders_per_user:{user}");
        eventually(&key, || {
            let got: Option<String> = c.get(&key).unwrap();
            (got.as_deref() == Some(want.as_str())).then_some(())
        });
    }
    let last_rows = eventually("the file output", || {
        let text = std::fs::read_to_string(out.join("orders_per_user.jsonl")).ok()?;
        let mut last = BTreeMap::new();
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line).ok()?;
            let user = row["customer"].as_str()?.to_string();
            let counts = (row["orders"].as_i64()?, row["total"].as_i64()?);
            last.insert(user, counts);
        }
        (last == expected).then_some(last)
    });
    assert_eq!(last_rows, expected);
    let set_err = c
        .set::<_, _, ()>("view:orders_per_user:ada", "x")
        .unwrap_err();
    assert!(set_err.to_string().contains("read-only"));
}

#[test]
fn requirepass_and_resp3() {
    let dir = tmp();
    let serve = Serve::start(&["--requirepass", "s3cret"], dir.path());
    let (reply, _) = raw_exchange(serve.port, b"GET a\r\nAUTH nope\r\nQUIT\r\n");
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-NOAUTH Authentication required.\r\n\
         -WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n"
    );
    let (reply, _) = raw_exchange(
        serve.port,
        b"HELLO 3 AUTH default s3cret\r\nGET missing\r\nSET k v\r\nQUIT\r\n",
    );
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("%7\r\n"), "{text}");
    assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{text}");
    assert!(text.ends_with("_\r\n+OK\r\n+OK\r\n"), "{text}");
}

/// SCAN with MATCH and COUNT visits every key exactly once: the oracle filters the written
/// keys by hand, and KEYS must agree.
#[test]
fn scan_visits_every_matching_key_once() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut c = serve.client();
    let written: Vec<String> = (0..500)
        .map(|i| format!("{}:{i}", ["user", "order"][i % 2]))
        .collect();
    for key in &written {
        let _: () = c.set(key, 1).unwrap();
    }
    type Filter = fn(&str) -> bool;
    let cases: [(&str, usize, Filter); 4] = [
        ("*", 7, |_| true),
        ("user:*", 50, |k| k.starts_with("user:")),
        ("order:1?", 3, |k| k.starts_with("order:1") && k.len() == 8),
        ("nothing*", 10, |_| false),
    ];
    for (pattern, count, filter) in cases {
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        loop {
            let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count)
                .query(&mut c)
                .unwrap();
            seen.extend(keys);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        seen.sort();
        let mut expected: Vec<String> = written.iter().filter(|k| filter(k)).cloned().collect();
        expected.sort();
        assert_eq!(seen, expected, "SCAN MATCH {pattern}");
        let mut listed: Vec<String> = c.keys(pattern).unwrap();
        listed.sort();
        assert_eq!(listed, expected, "KEYS {pattern}");
    }
}

/// Every shipped serve dataflow, TOML and SQL, loads (they have no fixed input, so no
/// expected output; `sql::twins` runs each pair on one input).
#[test]
fn serve_dataflows_check() {
    let dir = repo("dataflows/serve");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml" || e == "sql") {
            let out = kvflow().arg("check").arg(&path).output().unwrap();
            assert!(out.status.success(), "{}: {:?}", path.display(), out);
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

/// Two files served as one plan: a name defined in both is refused before the server
/// starts, naming the second file and the name (sinks and pipelines refer to each other by
/// name, so a clash would make one file's alert or sync read the other's pipeline).
#[test]
fn served_files_that_define_a_name_twice_are_refused() {
    let dir = tmp();
    let second = dir.path().join("second.toml");
    let first = repo("dataflows/serve/orders.toml");
    std::fs::copy(&first, &second).expect("copy");
    let mut child = kvflow()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&first)
        .arg(&second)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kvflow serve");
    let exited = eventually("serve refuses the files", || {
        child.try_wait().expect("wait")
    });
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    assert_eq!(exited.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: source `orders` is defined twice",
            second.display()
        )),
        "{stderr}"
    );
}
