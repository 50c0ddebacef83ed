//! HTTPS webhooks: an alert posted to a TLS server started by the test, whose certificate
//! the dataflow file trusts through `ca_file`, arrives exactly as the alert log writes it;
//! without `ca_file` the untrusted server gets nothing and each alert goes to the error
//! output; a `ca_file` that holds no certificate is refused at load time with its position.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::{assert_success, kvflow};

/// An HTTPS server on 127.0.0.1 that keeps every POST body and answers 200.
struct TlsReceiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl TlsReceiver {
    fn start(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsReceiver {
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let connection = rustls::ServerConnection::new(config.clone()).expect("tls");
                let stream = rustls::StreamOwned::new(connection, tcp);
                // NB: a client that refuses the certificate ends the handshake: no body.
                if let Some(body) = answer(stream) {
                    kept.lock().unwrap().push(body);
                }
            }
        });
        TlsReceiver { port, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Reads one request, answers 200 and closes; the request's body.
fn answer(
    stream: rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = reader.into_inner();
    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    stream.write_all(reply).ok()?;
    stream.conn.send_close_notify();
    stream.flush().ok()?;
    String::from_utf8(body).ok()
}

fn dataflow(port: u16, ca_file: Option<&str>) -> String {
    let ca = ca_file.map_or(String::new(), |f| format!(", ca_file = \"{f}\""));
    format!(
        r#"
[input]
generate = "users-orders"
events = 4000
seed = 11
rate_per_sec = 500

[sources.new_orders]
view = "events"
kinds = ["insert"]
key_regex = "^order_"

[[pipelines]]
name = "order_totals"
from = "new_orders"

[[pipelines.steps]]
window = {{ kind = "tumbling", size = 10000 }}
group_by = {{ user = "value.user_id" }}
aggregates = {{ orders = "count(*)", total = "sum(value.amount)" }}

[[alerts]]
name = "big_spender"
from = "order_totals"
condition = "total > 1500"
message = "{{user}} ordered {{total}}"
deliver = [
  {{ kind = "log" }},
  {{ kind = "webhook", url = "https://127.0.0.1:{port}/alerts", retries = 0, timeout_ms = 2000{ca} }},
]
"#
    )
}

/// Runs the file; the alert log's lines and the error output's lines.
fn run(dir: &Path, text: &str) -> (Vec<String>, Vec<String>) {
    let flow = dir.join("flow.toml");
    std::fs::write(&flow, text).unwrap();
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let status = kvflow()
        .arg("run")
        .arg(&flow)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_success(&status);
    let lines = |pattern: &str| -> Vec<String> {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(pattern))
            .flat_map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                text.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect()
    };
    (lines("big_spender.alerts"), lines("errors"))
}

#[test]
fn an_https_webhook_trusting_its_ca_file_gets_every_alert() {
    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), issued.cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.signing_key.serialize_der()));
    let receiver = TlsReceiver::start(issued.cert.der().clone(), key);

    let (logged, errors) = run(dir.path(), &dataflow(receiver.port, Some("ca.pem")));
    assert!(logged.len() >= 3, "only {} alerts fired", logged.len());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(receiver.bodies(), logged);

    let before = receiver.bodies().len();
    let (logged, errors) = run(dir.path(), &dataflow(receiver.port, None));
    assert_eq!(
        receiver.bodies().len(),
        before,
        "an untrusted server got alerts"
    );
    assert_eq!(errors.len(), logged.len(), "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("not delivered")),
        "{errors:?}"
    );
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_where_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let text = dataflow(1, Some("ca.pem"));
    let error = match kvflow::dataflow_file::load_str(&text, "flow.toml", dir.path()) {
        Ok(_) => panic!("a ca_file without a certificate was accepted"),
        Err(e) => e.to_string(),
    };
    let line = text.lines().position(|l| l.contains("ca_file")).unwrap() + 1;
    assert!(error.contains(&format!("flow.toml:{line}:")), "{error}");
    assert!(error.contains("holds no PEM certificate"), "{error}");
}
