//! `kvflow serve`'s events as clients see them: expiry as a delete event, keyspace
//! notifications, a blocked `XREAD` woken by a write, RESP3 pushes.

use std::time::Duration;

use redis::{Commands, Value};

use crate::support::serve::Serve;
use crate::support::{eventually, tmp};

#[test]
fn expiry_fires_a_delete_event() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut sub = serve.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.subscribe("__keyevent@0__:expired").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c = serve.client();
    let _: () = redis::cmd("SET")
        .arg("session")
        .arg("s1")
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    let ttl: i64 = c.pttl("session").unwrap();
    assert!((0..=50).contains(&ttl), "pttl {ttl}");
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "session");
    assert_eq!(c.exists::<_, i64>("session").unwrap(), 0);
    let read: Value = redis::cmd("XREAD")
        .arg("STREAMS")
        .arg("__changes")
        .arg("0")
        .query(&mut c)
        .unwrap();
    let text = format!("{read:?}");
    assert!(
        text.contains("delete") && text.contains("s1"),
        "no delete event in {text}"
    );
}

#[test]
fn keyspace_notifications_use_redis_event_names() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut sub = serve.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("__keyspace@0__:user_*").unwrap();
    pubsub.subscribe("__keyevent@0__:del").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c = serve.client();
    let _: () = c.set("user_1", "5").unwrap();
    let _: i64 = c.incr("user_1", 2).unwrap();
    let _: () = c.set("order_1", "x").unwrap();
    let _: i64 = c.expire("user_1", 100).unwrap();
    let _: i64 = c.del("user_1").unwrap();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = pubsub.get_message().unwrap();
        seen.push((
            message.get_channel_name().to_string(),
            message.get_payload::<String>().unwrap(),
        ));
    }
    let expected = [
        ("__keyspace@0__:user_1", "set"),
        ("__keyspace@0__:user_1", "incrby"),
        ("__keyspace@0__:user_1", "expire"),
        ("__keyspace@0__:user_1", "del"),
        ("__keyevent@0__:del", "user_1"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

/// A blocked XREAD is answered by the next write (from another client), with that write.
#[test]
fn a_blocked_xread_wakes_on_the_next_write() {
    let dir = tmp();
    let serve = Serve::start(&["--io-threads", "2"], dir.path());
    let mut c = serve.client();
    let _: () = c.set("before", "1").unwrap();
    let url = serve.url();
    let reader = std::thread::spawn(move || {
        let mut r = redis::Client::open(url).unwrap().get_connection().unwrap();
        let reply: Value = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(0)
            .arg("STREAMS")
            .arg("__changes")
            .arg("$")
            .query(&mut r)
            .unwrap();
        format!("{reply:?}")
    });
    eventually("the reader to block", || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        info.contains("blocked_clients:1").then_some(())
    });
    let _: () = c.set("after", "2").unwrap();
    let seen = reader.join().unwrap();
    assert!(seen.contains("after") && !seen.contains("before"), "{seen}");
}

/// After HELLO 3, published messages arrive as RESP3 pushes and replies use RESP3 types.
#[test]
fn resp3_pushes_pubsub_messages() {
    let dir = tmp();
    let serve = Serve::start(&[], dir.path());
    let mut sub = std::net::TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut sub, b"HELLO 3\r\nSUBSCRIBE news\r\n").unwrap();
    let mut c = serve.client();
    eventually("the subscription", || {
        (c.publish::<_, _, i64>("news", "hi").unwrap() == 1).then_some(())
    });
    let mut received = Vec::new();
    let wanted = b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    while !received.ends_with(wanted) {
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut sub, &mut chunk).unwrap();
        assert!(n > 0, "closed");
        received.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.contains(">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"),
        "{text}"
    );
}
