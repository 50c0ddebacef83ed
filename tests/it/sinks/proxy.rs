//! A TCP proxy on 127.0.0.1 that cuts every connection after forwarding a number of bytes
//! from the client, refuses connections while down, and comes back when told.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Client bytes forwarded since it came up; past `cut_after` (0: never) it goes down.
    forwarded: Arc<AtomicU64>,
    cut_after: Arc<AtomicU64>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Forwards to `upstream`; goes down by itself after `cut_after` client bytes.
    pub fn start(upstream: &str, cut_after: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let proxy = Proxy {
            port: listener.local_addr().expect("addr").port(),
            up: Arc::new(AtomicBool::new(true)),
            stop: Arc::new(AtomicBool::new(false)),
            forwarded: Arc::new(AtomicU64::new(0)),
            cut_after: Arc::new(AtomicU64::new(cut_after)),
            open: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, stop, forwarded, open) = (
            proxy.up.clone(),
            proxy.stop.clone(),
            proxy.forwarded.clone(),
            proxy.open.clone(),
        );
        let cut_after = proxy.cut_after.clone();
        let upstream = upstream.to_string();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) if up.load(Ordering::Relaxed) => {
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        let mut streams = open.lock().unwrap();
                        streams.push(client.try_clone().unwrap());
                        streams.push(server.try_clone().unwrap());
                        let budget = Budget {
                            forwarded: forwarded.clone(),
                            cut_after: cut_after.clone(),
                            up: up.clone(),
                            open: open.clone(),
                        };
                        pipe(
                            client.try_clone().unwrap(),
                            server.try_clone().unwrap(),
                            Some(budget),
                        );
                        pipe(server, client, None);
                    }
                    Ok((client, _)) => drop(client),
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        proxy
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Comes back up, for good.
    pub fn restore(&self) {
        self.cut_after.store(0, Ordering::Relaxed);
        self.up.store(true, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        cut(&self.open);
    }
}

fn cut(open: &Mutex<Vec<TcpStream>>) {
    for stream in open.lock().unwrap().drain(..) {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

struct Budget {
    forwarded: Arc<AtomicU64>,
    cut_after: Arc<AtomicU64>,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, budget: Option<Budget>) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(b) = &budget {
                let total = b.forwarded.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                let limit = b.cut_after.load(Ordering::Relaxed);
                if !b.up.load(Ordering::Relaxed) || (limit > 0 && total > limit) {
                    if b.up.swap(false, Ordering::Relaxed) {
                        cut(&b.open);
                    }
                    break;
                }
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
