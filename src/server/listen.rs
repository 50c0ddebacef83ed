//! The event loops: `io_threads` threads, each a `mio` poll over its share of the
//! connections; thread 0 also accepts and hands new connections out in turn.
//!
//! Decision — a few event-loop threads rather than a thread per connection: on a small
//! machine 50 or 200 client threads spend their time being scheduled, while one loop serves
//! every ready socket per wake-up, and a pipeline's replies go out in one write. The loops
//! share the server's state behind one lock taken once per pipeline (see `server::db`).
//!
//! Each round of a loop (one `poll`) ends by handing all the writes it ran to the dataflow
//! with one push, so the dataflow's feed is woken once per round, not once per client.
//!
//! A loop is woken by its `mio::Waker` for: new connections, pub/sub messages for its
//! subscribers, new changes for its blocked `XREAD`s, writes newly logged (held replies go
//! out), and shutdown. Every 100 ms (or at a
//! blocked read's deadline) it also closes idle connections, and thread 0 expires keys.
//!
//! Accepting, decisions:
//! - **A failed `accept` (out of descriptors: EMFILE, ENFILE) pauses accepting for 100 ms,
//!   then retries** whether or not the listener reports new connections: the listener is
//!   edge-triggered, and once the kernel's backlog is full no new connection can arrive to
//!   report readiness, so without the retry the listener would stay silent for good. Waiting
//!   clients stay in the backlog and are served once descriptors are free, rather than being
//!   accepted and closed at once as libuv's spare-descriptor trick does. A burst of failures
//!   is logged once when it starts and once when accepting works again, and counted
//!   (`INFO`: `accept_errors`).
//! - **`maxclients`, as in Redis**: a client beyond it is answered
//!   `-ERR max number of clients reached` and closed (`INFO`: `rejected_connections`). The
//!   default is Redis's 10 000, or the open-file limit less [`RESERVED_FDS`] when that is
//!   lower, so the clients alone cannot exhaust the descriptors the logs and outputs need.
//!   The limit is read from `/proc/self/limits` and not raised (Redis raises the soft limit
//!   with `setrlimit`; this crate makes no direct system calls).

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::TcpListener as StdListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::Server;
use super::conn::Conn;
use super::notify::Outbox;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;
const HOUSEKEEPING: Duration = Duration::from_millis(100);
/// Keys expired per housekeeping round at most (the rest wait for the next round).
const EXPIRE_PER_ROUND: usize = 10_000;
/// How long accepting pauses after a failed `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Redis's default `maxclients`.
pub const DEFAULT_MAXCLIENTS: usize = 10_000;
/// Descriptors kept for everything but clients (Redis keeps 32).
pub const RESERVED_FDS: usize = 32;
const MAXCLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// This process's limit of open files (Linux), if it has one.
pub fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Redis's default `maxclients` under an open-file limit (see the module doc).
pub fn default_maxclients(open_files: Option<usize>) -> usize {
    open_files.map_or(DEFAULT_MAXCLIENTS, |limit| {
        limit
            .saturating_sub(RESERVED_FDS)
            .clamp(1, DEFAULT_MAXCLIENTS)
    })
}

/// One event loop's inbox of accepted connections.
type Inbox = Arc<Mutex<Vec<TcpStream>>>;

/// Starts the event loops on `listener`; they return once the server is stopped.
pub fn start(server: Arc<Server>, listener: StdListener) -> std::io::Result<Vec<JoinHandle<()>>> {
    listener.set_nonblocking(true)?;
    let threads = server.config.io_threads.max(1);
    let mut polls = Vec::new();
    let mut wakers = Vec::new();
    let mut inboxes = Vec::new();
    for _ in 0..threads {
        let poll = Poll::new()?;
        wakers.push(Arc::new(Waker::new(poll.registry(), WAKER)?));
        polls.push(poll);
        inboxes.push(Inbox::default());
    }
    server.set_wakers(wakers.clone());
    let mut listener = Some(TcpListener::from_std(listener));
    let mut handles = Vec::new();
    for (index, poll) in polls.into_iter().enumerate() {
        let mut event_loop = EventLoop {
            index,
            poll,
            server: server.clone(),
            waker: wakers[index].clone(),
            listener: listener.take(),
            inbox: inboxes[index].clone(),
            peers: inboxes.clone(),
            peer_wakers: wakers.clone(),
            next_peer: 0,
            conns: HashMap::new(),
            next_token: FIRST_CONN,
            accept_paused_until: None,
            failed_accepts: 0,
        };
        let handle = std::thread::Builder::new()
            .name(format!("serve-io-{index}"))
            .spawn(move || event_loop.run())?;
        handles.push(handle);
    }
    Ok(handles)
}

struct EventLoop {
    index: usize,
    poll: Poll,
    server: Arc<Server>,
    waker: Arc<Waker>,
    listener: Option<TcpListener>,
    inbox: Inbox,
    peers: Vec<Inbox>,
    peer_wakers: Vec<Arc<Waker>>,
    next_peer: usize,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    /// Accepting waits until then after a failed `accept`.
    accept_paused_until: Option<Instant>,
    /// Failed `accept`s since accepting last worked.
    failed_accepts: u64,
}

impl EventLoop {
    fn run(&mut self) {
        if let Some(listener) = self.listener.as_mut()
            && let Err(e) = self
                .poll
                .registry()
                .register(listener, LISTENER, Interest::READABLE)
        {
            eprintln!("error: cannot listen: {e}");
            return;
        }
        let mut events = Events::with_capacity(1024);
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        loop {
            let timeout = self.poll_timeout(next_housekeeping);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                eprintln!("error: event loop: {e}");
                return;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.on_wake(),
                    token => self.on_socket(token, event.is_readable(), event.is_writable()),
                }
            }
            if self.server.shutdown.load(Ordering::SeqCst) {
                self.close_all();
                self.hand_over_writes();
                return;
            }
            let now = Instant::now();
            if self.accept_paused_until.is_some_and(|until| now >= until) {
                self.accept();
            }
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
            self.retry_blocked(now);
            self.hand_over_writes();
        }
    }

    /// Hands this round's writes (every connection's) to the dataflow in one push, wakes
    /// blocked readers of other loops, and waits while the dataflow is too far behind.
    fn hand_over_writes(&self) {
        let mut db = self.server.lock();
        let wrote = db.flush_writes(&self.server.queue);
        let wake_readers = wrote && db.blocked_readers > 0;
        drop(db);
        if wake_readers {
            self.server.wake_all();
        }
        if wrote {
            self.server.queue.wait_for_room();
        }
    }

    /// Until the next housekeeping round, the nearest blocked read's deadline, or the end
    /// of a pause in accepting.
    fn poll_timeout(&self, next_housekeeping: Instant) -> Duration {
        let deadline = self
            .conns
            .values()
            .filter_map(|c| c.session.blocked.as_ref().and_then(|b| b.deadline))
            .chain(self.accept_paused_until)
            .min()
            .map_or(next_housekeeping, |d| d.min(next_housekeeping));
        deadline.saturating_duration_since(Instant::now())
    }

    /// Accepts every waiting connection, unless accepting is paused (see the module doc).
    fn accept(&mut self) {
        if self
            .accept_paused_until
            .is_some_and(|until| Instant::now() < until)
        {
            return;
        }
        self.accept_paused_until = None;
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    self.accepting_again();
                    self.admit(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.accepting_again(),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) => return self.accept_failed(&e),
            }
        }
    }

    fn accept_failed(&mut self, error: &std::io::Error) {
        self.server
            .stats
            .accept_errors
            .fetch_add(1, Ordering::Relaxed);
        if self.failed_accepts == 0 {
            eprintln!(
                "warning: accept failed: {error}; retrying every {} ms while it fails \
                 (waiting clients stay in the backlog)",
                ACCEPT_BACKOFF.as_millis()
            );
        }
        self.failed_accepts += 1;
        self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
    }

    fn accepting_again(&mut self) {
        if self.failed_accepts > 0 {
            eprintln!(
                "kvflow serve: accepting connections again after {} failed accepts",
                self.failed_accepts
            );
            self.failed_accepts = 0;
        }
    }

    /// Hands a new connection to an event loop in turn, or refuses it at `maxclients`.
    fn admit(&mut self, mut stream: TcpStream) {
        let stats = &self.server.stats;
        if stats.connected.load(Ordering::Relaxed) >= self.server.config.maxclients {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            // NB: a new socket has room for this; if not, the client just sees the close.
            let _ = stream.write(MAXCLIENTS_REPLY);
            return;
        }
        stats.connected.fetch_add(1, Ordering::Relaxed);
        stats.connections_received.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let target = self.next_peer % self.peers.len();
        self.next_peer += 1;
        if let Ok(mut inbox) = self.peers[target].lock() {
            inbox.push(stream);
        }
        let _ = self.peer_wakers[target].wake();
    }

    fn on_wake(&mut self) {
        let incoming: Vec<TcpStream> = match self.inbox.lock() {
            Ok(mut inbox) => std::mem::take(&mut *inbox),
            Err(_) => Vec::new(),
        };
        for stream in incoming {
            self.add(stream);
        }
        let tokens: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.session.subscriptions() > 0
                    || c.session.outbox.killed.load(Ordering::Relaxed)
                    || c.has_held()
            })
            .map(|(t, _)| *t)
            .collect();
        for token in tokens {
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.release_logged(&self.server);
                conn.deliver_pushes(self.server.config.pubsub_limit);
            }
            self.reap(token);
        }
    }

    fn add(&mut self, mut stream: TcpStream) {
        let token = Token(self.next_token);
        self.next_token += 1;
        let stats = &self.server.stats;
        if self
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            stats.connected.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let waker = self.waker.clone();
        let outbox = Arc::new(Outbox::new(
            self.server.next_connection_id(),
            self.server.config.pubsub_limit,
            Box::new(move || {
                let _ = waker.wake();
            }),
        ));
        let authed = self.server.config.requirepass.is_none();
        if !authed {
            stats.unauthenticated.fetch_add(1, Ordering::Relaxed);
        }
        let limit = self.server.config.output_limit;
        self.conns
            .insert(token, Conn::new(stream, outbox, authed, limit));
    }

    fn on_socket(&mut self, token: Token, readable: bool, writable: bool) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if writable {
            conn.on_writable(&self.server);
        }
        if readable {
            conn.on_readable(&self.server);
        }
        self.reap(token);
    }

    /// Closes the connection if it is done; otherwise watches it for room to write exactly
    /// while replies wait (watching always would wake the loop after every reply).
    fn reap(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if !conn.dead {
            let wanted = conn.has_unwritten();
            if wanted != conn.watching_writable {
                let interest = match wanted {
                    true => Interest::READABLE | Interest::WRITABLE,
                    false => Interest::READABLE,
                };
                conn.watching_writable = wanted;
                conn.dead = self
                    .poll
                    .registry()
                    .reregister(&mut conn.stream, token, interest)
                    .is_err();
            }
            if !conn.dead {
                return;
            }
        }
        if let Some(mut conn) = self.conns.remove(&token) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            release(&self.server, &mut conn);
        }
    }

    fn retry_blocked(&mut self, now: Instant) {
        let tokens: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.blocked.is_some())
            .map(|(t, _)| *t)
            .collect();
        for token in tokens {
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.retry_blocked(&self.server, now);
            }
            self.reap(token);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        if self.index == 0 {
            self.expire_keys();
        }
        if let Some(timeout) = self.server.config.idle_timeout {
            for conn in self.conns.values_mut() {
                let idle = now.duration_since(conn.last_active) > timeout;
                if idle && conn.session.subscriptions() == 0 && conn.session.blocked.is_none() {
                    conn.dead = true;
                }
            }
        }
        let dead: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.dead)
            .map(|(t, _)| *t)
            .collect();
        for token in dead {
            self.reap(token);
        }
    }

    /// The active expiry cycle: deletes due keys (an `expired` event each; handed to the
    /// dataflow with the round's other writes).
    fn expire_keys(&self) {
        let mut db = self.server.lock();
        db.begin(self.server.now_ms());
        db.expire_due(EXPIRE_PER_ROUND);
    }

    /// Shutdown: write what is pending and close every connection.
    fn close_all(&mut self) {
        for (_, mut conn) in self.conns.drain() {
            conn.deliver_pushes(self.server.config.pubsub_limit);
            conn.flush();
            release(&self.server, &mut conn);
        }
    }
}

/// Releases what the server holds for a connection that is closed.
fn release(server: &Server, conn: &mut Conn) {
    if !conn.session.authed {
        server.stats.unauthenticated.fetch_sub(1, Ordering::Relaxed);
    }
    conn.close(server);
}
