//! One client connection: its buffers, its session, and how a read becomes replies.
//!
//! [`Conn::process`] parses every complete request in the read buffer and runs them all
//! under one lock of the server's state, appending the replies to one output buffer that is
//! then written with one `write` (so a pipeline of 16 `SET`s costs one lock and one system
//! call). The writes wait in the state until the event loop hands every connection's writes
//! of its round to the dataflow in one push (`listen`). A protocol error is answered as Redis
//! answers it and the connection closes once the reply is written; a client whose unparsed
//! input passes the query buffer limit is closed without a reply, as in Redis.
//!
//! With a data directory the reply to a write is *held* (see `server` on acknowledgement):
//! it stays in the output, with every reply after it, until the write is logged; then it
//! goes out. A held write whose log failed gets `-IOERR` in place of its reply.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::net::TcpStream;

use super::Server;
use super::commands::xread::{complete_read, read_log, ring_changes, write_entries};
use super::commands::{Args, Ctx, Session, execute};
use super::notify::Outbox;
use super::resp::{Frame, Reply, parse_frame};

/// Stop running requests while this many reply bytes wait for the client to read them.
const OUTPUT_BACKLOG: usize = 64 << 20;
const READ_CHUNK: usize = 16 << 10;

pub struct Conn {
    pub stream: TcpStream,
    /// Read buffer: `inbuf[parsed..filled]` is unparsed input; the rest is room for reads
    /// (kept allocated and initialised, so a read costs no zeroing).
    inbuf: Vec<u8>,
    parsed: usize,
    filled: usize,
    out: Vec<u8>,
    written: usize,
    frame: Frame,
    pub session: Session,
    pub last_active: Instant,
    /// Close once the output is written (QUIT, protocol error).
    pub closing: bool,
    /// Close now (peer gone, limit passed, write error).
    pub dead: bool,
    /// Most unwritten reply bytes before the client is disconnected.
    output_limit: usize,
    /// Whether the loop also watches this socket for room to write.
    pub watching_writable: bool,
    /// Replies to writes not yet logged, in output order (nothing from the first is sent).
    held: VecDeque<HeldReply>,
}

/// The reply `out[start..end]` to a write: it may go out once seq `seq` is logged.
struct HeldReply {
    start: usize,
    end: usize,
    seq: u64,
}

impl Conn {
    pub fn new(stream: TcpStream, outbox: Arc<Outbox>, authed: bool, output_limit: usize) -> Conn {
        Conn {
            stream,
            inbuf: Vec::new(),
            parsed: 0,
            filled: 0,
            out: Vec::new(),
            written: 0,
            frame: Frame::default(),
            session: Session::new(outbox, authed),
            last_active: Instant::now(),
            closing: false,
            dead: false,
            output_limit,
            watching_writable: false,
            held: VecDeque::new(),
        }
    }

    /// Reads what the socket has, running requests as they complete, then writes replies.
    pub fn on_readable(&mut self, server: &Server) {
        self.last_active = Instant::now();
        loop {
            if self.inbuf.len() - self.filled < READ_CHUNK {
                self.inbuf.resize(self.filled + READ_CHUNK, 0);
            }
            let room = self.inbuf.len() - self.filled;
            match self.stream.read(&mut self.inbuf[self.filled..]) {
                Ok(0) => {
                    self.dead = true;
                    break;
                }
                Ok(n) => {
                    self.filled += n;
                    if self.filled - self.parsed > server.config.limits.max_query_buffer {
                        self.dead = true;
                        break;
                    }
                    self.process(server);
                    if !self.session.authed {
                        // Redis's limits before AUTH (see `resp::parse`), on the request
                        // that waits for more bytes.
                        use super::resp;
                        let waiting = &self.inbuf[self.parsed..self.filled];
                        let limits = &server.config.limits;
                        let frame = &mut self.frame;
                        if let Err(error) =
                            resp::parse_frame_unauthenticated(waiting, limits, frame)
                        {
                            let resp3 = self.session.resp3;
                            Reply {
                                out: &mut self.out,
                                resp3,
                            }
                            .error(&error.0);
                            let refused = &server.stats.unauthenticated_refused;
                            refused.fetch_add(1, Ordering::Relaxed);
                            self.closing = true;
                            break;
                        }
                        if self.out.len() - self.written
                            > resp::parse::UNAUTHENTICATED_MAX_UNWRITTEN
                        {
                            self.dead = true;
                            break;
                        }
                    }
                    // NB: a short read emptied the socket; data arriving later is a new
                    // edge, so the read that would only say WouldBlock is skipped.
                    if n < room {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.dead |= e.kind() != ErrorKind::WouldBlock;
                    break;
                }
            }
        }
        self.flush();
    }

    /// Runs every complete request in the buffer (see the module doc), reading the change
    /// log outside the lock when an XREAD needs it.
    pub fn process(&mut self, server: &Server) {
        loop {
            self.process_round(server);
            let Some(read) = self.session.log_read.take() else {
                break;
            };
            let logged = read_log(server, &read);
            let mut db = server.lock();
            let mut reply = Reply {
                out: &mut self.out,
                resp3: self.session.resp3,
            };
            match logged {
                Ok(entries) => complete_read(&mut db, &mut self.session, &mut reply, read, entries),
                Err(_) => reply.error("ERR cannot read the change log of the data directory"),
            }
        }
        self.compact();
    }

    /// Runs requests under one lock until the buffer is used up or one must wait.
    fn process_round(&mut self, server: &Server) {
        let limits = server.config.limits;
        let logging = server.log_progress().is_some();
        let mut db = None;
        let mut commands = 0u64;
        while !self.closing
            && !self.dead
            && self.session.blocked.is_none()
            && self.session.log_read.is_none()
        {
            if self.out.len() - self.written > OUTPUT_BACKLOG {
                break;
            }
            let buf = &self.inbuf[self.parsed..self.filled];
            let resp3 = self.session.resp3;
            match parse_frame(buf, &limits, &mut self.frame) {
                Ok(false) => break,
                Ok(true) => {}
                Err(error) => {
                    Reply {
                        out: &mut self.out,
                        resp3,
                    }
                    .error(&error.0);
                    self.closing = true;
                    break;
                }
            }
            if !self.frame.args.is_empty() {
                let db = db.get_or_insert_with(|| {
                    let mut db = server.lock();
                    db.begin(server.now_ms());
                    db
                });
                let (reply_start, seq_before) = (self.out.len(), db.next_seq());
                let mut ctx = Ctx {
                    db,
                    session: &mut self.session,
                    server,
                    reply: Reply {
                        out: &mut self.out,
                        resp3,
                    },
                };
                execute(
                    &mut ctx,
                    Args {
                        buf,
                        ranges: &self.frame.args,
                    },
                );
                commands += 1;
                self.closing |= self.session.quit;
                if logging && db.next_seq() > seq_before {
                    self.held.push_back(HeldReply {
                        start: reply_start,
                        end: self.out.len(),
                        seq: db.next_seq() - 1,
                    });
                }
            }
            self.parsed += self.frame.consumed;
        }
        if db.is_some() {
            server.stats.commands.fetch_add(commands, Ordering::Relaxed);
        }
    }

    fn compact(&mut self) {
        if self.parsed == self.filled {
            self.parsed = 0;
            self.filled = 0;
        } else if self.parsed > READ_CHUNK {
            self.inbuf.copy_within(self.parsed..self.filled, 0);
            self.filled -= self.parsed;
            self.parsed = 0;
        }
        if self.inbuf.len() > 1 << 20 && self.filled < READ_CHUNK {
            self.inbuf.truncate(READ_CHUNK * 2);
            self.inbuf.shrink_to_fit();
        }
    }

    /// Whether replies wait for room in the socket (not those waiting for the log).
    pub fn has_unwritten(&self) -> bool {
        self.written < self.sendable()
    }

    /// Whether replies wait for their writes to be logged.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// The end of what may be sent: up to the first held reply.
    fn sendable(&self) -> usize {
        self.held.front().map_or(self.out.len(), |h| h.start)
    }

    /// Writes as much of the output as the socket takes.
    pub fn flush(&mut self) {
        let sendable = self.sendable();
        while self.written < sendable && !self.dead {
            match self.stream.write(&self.out[self.written..sendable]) {
                Ok(0) => self.dead = true,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => self.dead = true,
            }
        }
        let unwritten = self.out.len() - self.written;
        if unwritten > self.output_limit {
            self.dead = true;
        }
        if unwritten > 0 {
            return;
        }
        self.out.clear();
        self.written = 0;
        if self.out.capacity() > 1 << 20 {
            self.out.shrink_to(READ_CHUNK * 4);
        }
        if self.closing {
            self.dead = true;
        }
    }

    /// Sends the replies whose writes are now logged; when the log failed, the writes still
    /// waiting are answered with an error instead. Then runs requests held back meanwhile.
    pub fn release_logged(&mut self, server: &Server) {
        let Some(progress) = server.log_progress() else {
            return;
        };
        let logged_before = progress.logged_before();
        while self.held.front().is_some_and(|h| h.seq < logged_before) {
            self.held.pop_front();
        }
        if !self.held.is_empty()
            && let Some(error) = progress.error()
        {
            self.fail_held(&error);
        }
        self.flush();
        if self.held.is_empty() && self.written == 0 && self.parsed < self.filled {
            self.process(server);
            self.flush();
        }
    }

    /// Replaces every held reply with an error saying the write was not logged.
    fn fail_held(&mut self, error: &str) {
        let Some(first) = self.held.front().map(|h| h.start) else {
            return;
        };
        let tail = self.out.split_off(first);
        let mut at = 0;
        let held: Vec<HeldReply> = self.held.drain(..).collect();
        for reply in held {
            self.out.extend_from_slice(&tail[at..reply.start - first]);
            Reply {
                out: &mut self.out,
                resp3: self.session.resp3,
            }
            .error(&format!("IOERR write not logged: {error}"));
            at = reply.end - first;
        }
        self.out.extend_from_slice(&tail[at..]);
    }

    /// The socket can take more: write, then run requests held back by a full output.
    pub fn on_writable(&mut self, server: &Server) {
        self.flush();
        if self.written == 0 && self.held.is_empty() && self.parsed < self.filled {
            self.process(server);
            self.flush();
        }
    }

    /// Moves published messages to the output, and closes a subscriber whose unread
    /// messages (queued or unwritten) pass `limit`.
    pub fn deliver_pushes(&mut self, limit: usize) {
        if self.session.outbox.killed.load(Ordering::Relaxed) {
            self.dead = true;
            return;
        }
        self.session.outbox.take_into(&mut self.out);
        self.flush();
        if self.out.len() - self.written > limit {
            self.dead = true;
        }
    }

    /// Retries a blocked `XREAD`: answers it when changes arrived or its deadline passed,
    /// then runs the requests that were waiting behind it.
    pub fn retry_blocked(&mut self, server: &Server, now: Instant) {
        let Some(blocked) = self.session.blocked.clone() else {
            return;
        };
        let mut db = server.lock();
        let entries = ring_changes(&db, blocked.after, blocked.count);
        let timed_out = blocked.deadline.is_some_and(|d| d <= now);
        if entries.is_empty() && !timed_out {
            return;
        }
        db.blocked_readers = db.blocked_readers.saturating_sub(1);
        drop(db);
        self.session.blocked = None;
        write_entries(
            &mut Reply {
                out: &mut self.out,
                resp3: self.session.resp3,
            },
            &entries,
        );
        self.process(server);
        self.flush();
    }

    /// Releases what the server holds for this connection (subscriptions, a blocked read).
    pub fn close(&mut self, server: &Server) {
        let subscribed = self.session.subscriptions() > 0;
        if subscribed || self.session.blocked.is_some() {
            let mut db = server.lock();
            if subscribed {
                db.pubsub.remove_connection(self.session.outbox.id);
            }
            if self.session.blocked.take().is_some() {
                db.blocked_readers = db.blocked_readers.saturating_sub(1);
            }
        }
        server.stats.connected.fetch_sub(1, Ordering::Relaxed);
    }
}
