//! `XREAD [COUNT n] [BLOCK ms] STREAMS __changes <id>`: the change stream (see
//! `server::changes`). A read that finds nothing with `BLOCK` parks the connection; its
//! event loop retries it when new changes arrive and answers nil at the deadline.
//!
//! A read from before the in-memory ring needs the data directory's log, which can take a
//! while: the command then only records a [`LogRead`] and the connection reads the log after
//! releasing the server's lock ([`read_log`]), so one client resuming from far back never
//! stalls the others; [`complete_read`] then adds what the ring holds and answers.

use std::time::{Duration, Instant};

use super::{Args, Ctx, SYNTAX, Session};
use crate::server::changes::{ChangeEntry, StreamId, read_logged};
use crate::server::db::Db;
use crate::server::resp::Reply;
use crate::server::{CHANGES_STREAM, Server};

/// A read that needs the data directory's log (see the module doc).
#[derive(Clone, Debug)]
pub struct LogRead {
    pub after: StreamId,
    pub count: usize,
    pub block: Option<u64>,
}

/// A read waiting for changes.
#[derive(Clone, Debug)]
pub struct BlockedRead {
    pub after: StreamId,
    pub count: usize,
    /// `None`: wait for ever (`BLOCK 0`).
    pub deadline: Option<Instant>,
}

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    if name != "xread" {
        return false;
    }
    let result = xread(ctx, args);
    super::finish(ctx, result);
    true
}

fn xread(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let mut count = usize::MAX;
    let mut block = None;
    let mut index = 1;
    while index < args.len() && !args.is(index, "streams") {
        if args.is(index, "count") {
            count = usize::try_from(args.int(index + 1)?).unwrap_or(0).max(1);
        } else if args.is(index, "block") {
            let ms = u64::try_from(args.int(index + 1)?).map_err(|_| "ERR timeout is negative")?;
            block = Some(ms);
        } else {
            return Err(SYNTAX);
        }
        index += 2;
    }
    let streams = args.len().saturating_sub(index + 1);
    if index >= args.len() || streams == 0 || !streams.is_multiple_of(2) {
        return Err(
            "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be \
             specified.",
        );
    }
    let keys = streams / 2;
    let position = (0..keys).find(|k| args.get(index + 1 + k) == CHANGES_STREAM.as_bytes());
    let Some(position) = position else {
        // Other streams do not exist here: nothing to read.
        ctx.reply.null_array();
        return Ok(());
    };
    let id = args.get(index + 1 + keys + position);
    let after = match id {
        b"$" => ctx.db.changes.last,
        other => StreamId::parse(other)
            .ok_or("ERR Invalid stream ID specified as stream command argument")?,
    };
    let read = LogRead {
        after,
        count,
        block,
    };
    if ctx.server.config.data_dir.is_some() && before_ring(ctx.db, after) {
        ctx.session.log_read = Some(read);
        return Ok(());
    }
    complete_read(ctx.db, ctx.session, &mut ctx.reply, read, Vec::new());
    Ok(())
}

/// Whether entries after `after` may be older than the ring holds.
fn before_ring(db: &Db, after: StreamId) -> bool {
    match db.changes.first() {
        Some(first) => first.seq > after.seq + 1 && after < first,
        None => after < db.changes.last,
    }
}

/// Reads up to `read.count` logged entries after `read.after` (without the server's lock).
pub fn read_log(server: &Server, read: &LogRead) -> Result<Vec<ChangeEntry>, String> {
    match &server.config.data_dir {
        Some(dir) => read_logged(dir, read.after, None, read.count),
        None => Ok(Vec::new()),
    }
}

/// Answers `read` with the `logged` entries and then the ring's, or blocks the session.
pub fn complete_read(
    db: &mut Db,
    session: &mut Session,
    reply: &mut Reply,
    read: LogRead,
    mut entries: Vec<ChangeEntry>,
) {
    let from = entries.last().map_or(read.after, |e| e.id);
    if entries.len() < read.count {
        entries.extend(db.changes.after(from, read.count - entries.len()));
    }
    if !entries.is_empty() || read.block.is_none() {
        write_entries(reply, &entries);
        return;
    }
    let deadline = read
        .block
        .filter(|ms| *ms > 0)
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    session.blocked = Some(BlockedRead {
        after: read.after,
        count: read.count,
        deadline,
    });
    db.blocked_readers += 1;
}

/// Entries after `after` from the ring (a blocked read waits for new changes only).
pub fn ring_changes(db: &Db, after: StreamId, count: usize) -> Vec<ChangeEntry> {
    db.changes.after(after, count)
}

/// The reply of a read that found `entries` (nil when none).
pub fn write_entries(reply: &mut Reply, entries: &[ChangeEntry]) {
    if entries.is_empty() {
        reply.null_array();
        return;
    }
    if reply.resp3 {
        reply.map(1);
    } else {
        // RESP2 shows each stream as a [name, entries] pair inside an array.
        reply.array(1);
        reply.array(2);
    }
    reply.bulk(CHANGES_STREAM.as_bytes());
    reply.array(entries.len());
    for entry in entries {
        entry.write(reply);
    }
}
