//! `kvflow serve` under load and abuse: many clients, protocol limits, slow readers, idle
//! clients, and a public address without a password (refused unless `--unsafe-no-auth`).

use std::time::Duration;

use redis::Commands;

use crate::support::serve::{Serve, raw_exchange, run_to_exit};
use crate::support::{eventually, free_port, kvflow, tmp};

#[test]
fn limits_close_the_connection() {
    let dir = tmp();
    let serve = Serve::start(
        &[
            "--max-bulk-len",
            "500000",
            "--max-array-len",
            "8",
            "--max-query-buffer",
            "100000",
        ],
        dir.path(),
    );
    let (reply, closed) = raw_exchange(serve.port, b"*1\r\n$500001\r\n");
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);
    let (reply, closed) = raw_exchange(serve.port, b"*9\r\n");
    assert_eq!(reply, b"-ERR Protocol error: invalid multibulk length\r\n");
    assert!(closed);
    // A request that never completes: the query buffer limit closes it without a reply. (Its
    // bulk is longer than the bytes sent, so no read, however the bytes are split, completes
    // it.)
    let mut big = b"*2\r\n$3\r\nGET\r\n$400000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 200_000));
    let (reply, closed) = raw_exchange(serve.port, &big);
    assert!(reply.is_empty() && closed);
    // A huge length prefix within the limit allocates nothing and waits for more.
    let mut c = serve.client();
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
}

#[test]
fn two_hundred_concurrent_connections() {
    let dir = tmp();
    let serve = Serve::start(&["--io-threads", "2"], dir.path());
    let mut clients: Vec<redis::Connection> = (0..200).map(|_| serve.client()).collect();
    for round in 0..5 {
        for (i, c) in clients.iter_mut().enumerate() {
            let _: () = c.set(format!("k{i}"), format!("{round}-{i}")).unwrap();
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let value: String = c.get(format!("k{}", (i + 1) % 200)).unwrap();
        assert_eq!(value, format!("4-{}", (i + 1) % 200));
    }
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query(&mut clients[0])
        .unwrap();
    assert!(info.contains("connected_clients:200"), "{info}");
}

#[test]
fn a_slow_subscriber_is_disconnected_not_buffered() {
    let dir = tmp();
    let serve = Serve::start(&["--pubsub-buffer-limit", "100000"], dir.path());
    // Subscribes, then never reads.
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    std::io::Write::write_all(&mut slow, b"SUBSCRIBE news\r\n").unwrap();
    let mut c = serve.client();
    eventually("the subscription", || {
        (c.publish::<_, _, i64>("news", "x").unwrap() == 1).then_some(())
    });
    let payload = "p".repeat(64 << 10);
    let receivers = eventually("the subscriber to be dropped", || {
        let n: i64 = c.publish("news", &payload).unwrap();
        (n == 0).then_some(n)
    });
    assert_eq!(receivers, 0);
}

#[test]
fn idle_clients_time_out() {
    let dir = tmp();
    let serve = Serve::start(&["--timeout", "1"], dir.path());
    let (reply, closed) = {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        let n = std::io::Read::read(&mut s, &mut buf).unwrap_or(0);
        (buf[..n].to_vec(), n == 0)
    };
    assert!(reply.is_empty() && closed);
}

/// A change-stream reader that keeps asking and never reads is cut off at the output limit.
#[test]
fn a_change_stream_reader_that_never_reads_is_disconnected() {
    let dir = tmp();
    let serve = Serve::start(&["--client-output-limit", "200000"], dir.path());
    let mut c = serve.client();
    let value = "v".repeat(100);
    for chunk in 0..10 {
        let mut pipe = redis::pipe();
        for i in 0..500 {
            pipe.set(format!("k{chunk}-{i}"), &value).ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    let mut reader = std::net::TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    let request = b"XREAD STREAMS __changes 0\r\n".repeat(200);
    let mut closed = false;
    for _ in 0..200 {
        if std::io::Write::write_all(&mut reader, &request).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(closed, "the reader was never disconnected");
    let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
    assert!(info.contains("connected_clients:1\r\n"), "{info}");
}

#[test]
fn a_public_address_without_a_password_is_refused() {
    let listen = format!("0.0.0.0:{}", free_port());
    let out = run_to_exit(&["serve", "--listen", &listen]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "--listen {listen}: a non-loopback address without --requirepass"
        )),
        "{text}"
    );
    assert!(text.contains("--unsafe-no-auth"), "{text}");
}

#[test]
fn unsafe_no_auth_allows_a_public_address_and_warns() {
    let port = free_port();
    let mut child = kvflow()
        .args([
            "serve",
            "--unsafe-no-auth",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the server to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("warning: listening on 0.0.0.0"), "{text}");
}
