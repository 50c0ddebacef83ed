//! `XREAD [COUNT n] [BLOCK ms] STREAMS __changes <id>`: the change stream (see
//! `server::changes`). A read that finds nothing with `BLOCK` parks the connection; its
//! event loop retries it when new changes arrive and answers nil at the deadline.

use std::time::{Duration, Instant};

use super::{Args, Ctx, SYNTAX};
use crate::server::changes::{ChangeEntry, StreamId, read_logged};
use crate::server::db::Db;
use crate::server::resp::Reply;
use crate::server::{CHANGES_STREAM, Server};

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
    let entries = read_changes(ctx.server, ctx.db, after, count)?;
    if !entries.is_empty() || block.is_none() {
        write_entries(&mut ctx.reply, &entries);
        return Ok(());
    }
    let deadline = block
        .filter(|ms| *ms > 0)
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    ctx.session.blocked = Some(BlockedRead {
        after,
        count,
        deadline,
    });
    ctx.db.blocked_readers += 1;
    Ok(())
}

/// Entries after `after`: from the data directory's log for what the ring no longer holds,
/// then from the ring.
pub fn read_changes(
    server: &Server,
    db: &Db,
    after: StreamId,
    count: usize,
) -> Result<Vec<ChangeEntry>, &'static str> {
    let ring_first = db.changes.first();
    let missing = match ring_first {
        Some(first) => first.seq > after.seq + 1 && after < first,
        None => after < db.changes.last,
    };
    let mut entries = Vec::new();
    if let (true, Some(dir)) = (missing, &server.config.data_dir) {
        entries = read_logged(dir, after, ring_first, count)
            .map_err(|_| "ERR cannot read the change log of the data directory")?;
    }
    let from = entries.last().map_or(after, |e| e.id);
    if entries.len() < count {
        entries.extend(db.changes.after(from, count - entries.len()));
    }
    Ok(entries)
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
