//! A webhook receiver on 127.0.0.1 for the alert tests (tiny_http): it answers each request
//! as the test says — a status, possibly after a wait, or never — and keeps the bodies it
//! accepted.

use std::sync::{Arc, Mutex};

/// What the receiver does with its `n`-th request (1-based).
pub enum Answer {
    /// Answers with this status; a 2xx keeps the body as delivered.
    Status(u16),
    /// Reads the request and never answers (the request is held until the receiver stops).
    Never,
}

pub struct Webhook {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<usize>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    /// Starts a receiver that answers its `n`-th request with `answer(n)`; `answer` runs on
    /// the receiver's one thread, so a slow answer delays every request after it.
    pub fn start(answer: impl Fn(usize) -> Answer + Send + 'static) -> Webhook {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("http server"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let (bodies, requests) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(0)));
        let thread = {
            let (server, bodies, requests) = (server.clone(), bodies.clone(), requests.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let n = {
                        let mut n = requests.lock().unwrap();
                        *n += 1;
                        *n
                    };
                    match answer(n) {
                        Answer::Never => held.push(request),
                        Answer::Status(status) => {
                            if (200..300).contains(&status) {
                                bodies.lock().unwrap().push(body);
                            }
                            let _ = request.respond(tiny_http::Response::empty(status));
                        }
                    }
                }
            })
        };
        Webhook {
            url: format!("http://127.0.0.1:{port}/alerts"),
            bodies,
            requests,
            server,
            thread: Some(thread),
        }
    }

    /// Stops the receiver: the bodies it accepted and how many requests it got.
    pub fn stop(mut self) -> (Vec<String>, usize) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let bodies = self.bodies.lock().unwrap().clone();
        let requests = *self.requests.lock().unwrap();
        (bodies, requests)
    }
}
