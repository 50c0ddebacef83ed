//! The oracle: the same seeded random command sequence against a real `redis-server` and
//! against `kvflow serve`; every reply must be the same (TTLs compared as "has a TTL", since
//! the two clocks are read at different instants).

use kvflow::workload::rng::Rng;
use redis::Value;

use crate::support::serve::{RealRedis, Serve};

const KEYS: [&str; 5] = ["a", "b", "c", "user:1", "user:2"];
const VALUES: [&str; 9] = [
    "1",
    "10",
    "-5",
    "x",
    "hello world",
    "",
    "007",
    "9223372036854775807",
    "{\"n\":1}",
];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

/// One random command, and whether its integer reply is a TTL.
fn random_command(rng: &mut Rng) -> (Vec<String>, bool) {
    let k = pick(rng, &KEYS).to_string();
    let k2 = pick(rng, &KEYS).to_string();
    let v = pick(rng, &VALUES).to_string();
    let n = (rng.next_u64() % 21) as i64 - 10;
    let words = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let set_options = [
        vec![],
        words(&["NX"]),
        words(&["XX"]),
        words(&["GET"]),
        words(&["EX", "1000"]),
        words(&["PX", "0"]),
        words(&["NX", "GET"]),
        words(&["KEEPTTL"]),
        words(&["EX"]),
    ];
    let command = match rng.next_u64() % 26 {
        0..=3 => {
            let mut c = vec!["SET".into(), k, v];
            c.extend(set_options[(rng.next_u64() % set_options.len() as u64) as usize].clone());
            c
        }
        4 | 5 => vec!["GET".into(), k],
        6 => vec!["DEL".into(), k, k2],
        7 => vec!["EXISTS".into(), k.clone(), k2, k],
        8 => vec!["INCR".into(), k],
        9 => vec!["INCRBY".into(), k, n.to_string()],
        10 => vec!["DECRBY".into(), k, n.to_string()],
        11 => vec!["APPEND".into(), k, v],
        12 => vec!["STRLEN".into(), k],
        13 => vec!["MGET".into(), k, k2, "zz".into()],
        14 => vec!["MSET".into(), k, v, k2, "m".into()],
        15 => vec!["GETDEL".into(), k],
        16 => vec!["EXPIRE".into(), k, "1000".into()],
        17 => vec![
            "EXPIRE".into(),
            k,
            (n * 100).to_string(),
            pick(rng, &["NX", "XX", "GT", "LT"]).into(),
        ],
        18 => return (vec!["TTL".into(), k], true),
        19 => vec!["PERSIST".into(), k],
        20 => vec!["TYPE".into(), k],
        21 => vec!["DBSIZE".into()],
        22 => vec!["DECR".into(), k],
        23 => words(&["FOO", "bar"]),
        24 => vec!["GET".into()],
        _ => vec!["SELECT".into(), pick(rng, &["0", "16", "x"]).into()],
    };
    (command, false)
}

/// A reply in comparable form: values as they are, errors by their text, a positive TTL
/// as `Okay`.
fn run(c: &mut redis::Connection, command: &[String], is_ttl: bool) -> Result<Value, String> {
    let mut cmd = redis::cmd(&command[0]);
    for arg in &command[1..] {
        cmd.arg(arg);
    }
    match cmd.query::<Value>(c) {
        Ok(Value::Int(n)) if is_ttl && n > 0 => Ok(Value::Okay),
        Ok(value) => Ok(value),
        Err(e) => Err(e.to_string()),
    }
}

fn sorted_keys(c: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    keys
}

#[test]
fn random_commands_reply_like_redis() {
    let Some(redis_server) = RealRedis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&[], dir.path());
    let mut theirs = redis_server.client();
    let mut ours = serve.client();
    for seed in 0..3u64 {
        let _: () = redis::cmd("FLUSHALL").query(&mut theirs).unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut ours).unwrap();
        let mut rng = Rng::new(seed, 6);
        for step in 0..1500 {
            let (command, is_ttl) = random_command(&mut rng);
            let expected = run(&mut theirs, &command, is_ttl);
            let got = run(&mut ours, &command, is_ttl);
            assert_eq!(got, expected, "seed {seed} step {step}: {command:?}");
        }
        assert_eq!(
            sorted_keys(&mut ours),
            sorted_keys(&mut theirs),
            "seed {seed}"
        );
    }
}
