//! Running one request: the argument view, the per-connection session, and the dispatch
//! to each command family (one file per family, as Redis groups them).

mod apply;
mod connection;
mod info;
mod info_sinks;
mod keys;
mod pubsub;
mod strings;
pub mod xread;

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use super::Server;
use super::db::Db;
use super::notify::Outbox;
use super::resp::Reply;

pub use xread::{BlockedRead, LogRead};

/// A request's arguments, borrowed from the connection's read buffer.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    pub buf: &'a [u8],
    pub ranges: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn get(&self, index: usize) -> &'a [u8] {
        self.ranges
            .get(index)
            .map_or(&[][..], |r| &self.buf[r.clone()])
    }

    /// Argument `index` as UTF-8 text (keys and values must be).
    pub fn text(&self, index: usize) -> Result<&'a str, &'static str> {
        std::str::from_utf8(self.get(index)).map_err(|_| NOT_UTF8)
    }

    pub fn int(&self, index: usize) -> Result<i64, &'static str> {
        parse_int(self.get(index)).ok_or(NOT_INT)
    }

    /// Whether argument `index` is `word`, ignoring case.
    pub fn is(&self, index: usize, word: &str) -> bool {
        self.get(index).eq_ignore_ascii_case(word.as_bytes())
    }
}

/// The commands this server knows (for `COMMAND COUNT`).
pub const COMMAND_NAMES: &[&str] = &[
    "append",
    "auth",
    "client",
    "command",
    "config",
    "dbsize",
    "decr",
    "decrby",
    "del",
    "echo",
    "exists",
    "expire",
    "flushall",
    "flushdb",
    "get",
    "getdel",
    "hello",
    "incr",
    "incrby",
    "info",
    "keys",
    "mget",
    "mset",
    "persist",
    "pexpire",
    "ping",
    "psubscribe",
    "pttl",
    "publish",
    "punsubscribe",
    "quit",
    "reset",
    "scan",
    "select",
    "set",
    "strlen",
    "subscribe",
    "ttl",
    "type",
    "unlink",
    "unsubscribe",
    "xread",
];

/// The commands that write: refused while the log cannot be written.
const WRITE_COMMANDS: &[&str] = &[
    "append",
    "decr",
    "decrby",
    "del",
    "expire",
    "flushall",
    "flushdb",
    "getdel",
    "incr",
    "incrby",
    "kvflow.apply",
    "mset",
    "persist",
    "pexpire",
    "set",
    "unlink",
];

pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_UTF8: &str = "ERR kvflow keys and values are UTF-8 text";
pub const SYNTAX: &str = "ERR syntax error";

/// An integer as Redis reads one: optional `-`, digits, no spaces or `+`, fits in i64.
pub fn parse_int(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.starts_with('+') || text.len() > 20 {
        return None;
    }
    if text.len() > 1 && (text.starts_with('0') || text.starts_with("-0")) {
        return None;
    }
    text.parse().ok()
}

/// A connection's state that commands read and change.
pub struct Session {
    pub outbox: Arc<Outbox>,
    pub resp3: bool,
    pub authed: bool,
    pub name: Option<String>,
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    pub blocked: Option<BlockedRead>,
    /// An XREAD waiting for the log to be read outside the lock.
    pub log_read: Option<LogRead>,
    /// Close once the replies so far are written (`QUIT`).
    pub quit: bool,
}

impl Session {
    pub fn new(outbox: Arc<Outbox>, authed: bool) -> Session {
        Session {
            outbox,
            resp3: false,
            authed,
            name: None,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            blocked: None,
            log_read: None,
            quit: false,
        }
    }

    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// What one command runs with.
pub struct Ctx<'a> {
    pub db: &'a mut Db,
    pub session: &'a mut Session,
    pub server: &'a Server,
    pub reply: Reply<'a>,
}

impl Ctx<'_> {
    fn wrong_args(&mut self, name: &str) {
        self.reply.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
}

/// Sends a command's error, unless it already replied (an empty error).
fn finish(ctx: &mut Ctx, result: Result<(), &'static str>) {
    if let Err(error) = result
        && !error.is_empty()
    {
        ctx.reply.error(error);
    }
}

/// The lower-case command name, if it is short enough to be one.
fn command_name(bytes: &[u8], buf: &mut [u8; 24]) -> Option<usize> {
    if bytes.len() > buf.len() {
        return None;
    }
    for (slot, byte) in buf.iter_mut().zip(bytes) {
        *slot = byte.to_ascii_lowercase();
    }
    Some(bytes.len())
}

/// Runs one request (at least one argument) and appends its reply.
pub fn execute(ctx: &mut Ctx, args: Args) {
    let mut name_buf = [0u8; 24];
    let name = match command_name(args.get(0), &mut name_buf) {
        Some(len) => std::str::from_utf8(&name_buf[..len]).unwrap_or(""),
        None => "",
    };
    if !ctx.session.authed && !matches!(name, "auth" | "hello" | "quit") {
        ctx.reply.error("NOAUTH Authentication required.");
        return;
    }
    if ctx.session.subscriptions() > 0
        && !ctx.session.resp3
        && !pubsub::allowed_when_subscribed(name)
    {
        ctx.reply.error(&format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context"
        ));
        return;
    }
    if WRITE_COMMANDS.contains(&name)
        && let Some(error) = ctx.server.log_error()
    {
        ctx.reply.error(&format!(
            "MISCONF Errors writing to the log: {error}. Writes are refused until it can be \
             written again; see INFO persistence"
        ));
        return;
    }
    let known = strings::run(name, ctx, args)
        || keys::run(name, ctx, args)
        || connection::run(name, ctx, args)
        || pubsub::run(name, ctx, args)
        || xread::run(name, ctx, args)
        || apply::run(name, ctx, args);
    if known {
        ctx.db.count_command(name);
    } else {
        unknown_command(ctx, args);
    }
}

fn unknown_command(ctx: &mut Ctx, args: Args) {
    // As Redis: the name up to 128 bytes, then quoted arguments while under 128 bytes.
    let shown = |bytes: &[u8], max: usize| {
        String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
    };
    let mut listed = String::new();
    for index in 1..args.len() {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push_str(&format!("'{}' ", shown(args.get(index), room)));
    }
    ctx.reply.error(&format!(
        "ERR unknown command '{}', with args beginning with: {listed}",
        shown(args.get(0), 128)
    ));
}
