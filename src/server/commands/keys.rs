//! Key commands: DEL, UNLINK, EXISTS, EXPIRE/PEXPIRE (NX/XX/GT/LT), TTL, PTTL, PERSIST,
//! KEYS, SCAN (MATCH/COUNT/TYPE), TYPE, DBSIZE, FLUSHDB/FLUSHALL.
//!
//! `SCAN`'s cursor is a position in the keyspace's scan order (see `server::keyspace`): a
//! call returns `COUNT` names from the cursor on (all names of one position go together),
//! and the next cursor is one past the last position. A key present for the whole scan is
//! returned exactly once, however the keyspace changes, and a call costs
//! `O(log n + COUNT)`. View names are paged through the order taken when the scan started
//! (`SCAN 0`); `MATCH` and `TYPE` filter a page after it is read, as in Redis.

use std::sync::Arc;

use super::strings::{arity, expiry_deadline, writable};
use super::{Args, Ctx, SYNTAX};
use crate::server::glob::glob_match;
use crate::server::keyspace::{ScanOrder, scan_page};
use crate::server::notify::KeyspaceEvent;

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    let result = match name {
        "del" | "unlink" => del(ctx, args, name),
        "exists" => exists(ctx, args),
        "expire" | "pexpire" => expire(ctx, args, name),
        "ttl" => arity(ctx, args, 2, name).and_then(|_| ttl(ctx, args, 1000)),
        "pttl" => arity(ctx, args, 2, name).and_then(|_| ttl(ctx, args, 1)),
        "persist" => arity(ctx, args, 2, name).and_then(|_| persist(ctx, args)),
        "keys" => arity(ctx, args, 2, name).and_then(|_| keys(ctx, args)),
        "scan" => scan(ctx, args),
        "type" => arity(ctx, args, 2, name).and_then(|_| key_type(ctx, args)),
        "dbsize" => arity(ctx, args, 1, name).map(|_| {
            let size = ctx.db.keys.len() + ctx.db.views.len();
            ctx.reply.int(size as i64)
        }),
        "flushdb" | "flushall" => flush(ctx),
        _ => return false,
    };
    super::finish(ctx, result);
    true
}

fn del(ctx: &mut Ctx, args: Args, name: &str) -> Result<(), &'static str> {
    if args.len() < 2 {
        ctx.wrong_args(name);
        return Ok(());
    }
    let mut removed = 0;
    for index in 1..args.len() {
        let key = args.text(index)?;
        writable(ctx, key)?;
        if ctx.db.live(key).is_some() && ctx.db.delete(key, KeyspaceEvent::Del) {
            removed += 1;
        }
    }
    ctx.reply.int(removed);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    if args.len() < 2 {
        ctx.wrong_args("exists");
        return Ok(());
    }
    let mut found = 0;
    for index in 1..args.len() {
        if args.text(index).ok().and_then(|k| ctx.db.read(k)).is_some() {
            found += 1;
        }
    }
    ctx.reply.int(found);
    Ok(())
}

fn expire(ctx: &mut Ctx, args: Args, name: &str) -> Result<(), &'static str> {
    if !(3..=4).contains(&args.len()) {
        ctx.wrong_args(name);
        return Ok(());
    }
    let key = args.text(1)?;
    let amount = args.int(2)?;
    let condition = args.get(3).to_ascii_lowercase();
    if !matches!(condition.as_slice(), b"" | b"nx" | b"xx" | b"gt" | b"lt") {
        return Err(SYNTAX);
    }
    writable(ctx, key)?;
    let bad = if name == "expire" {
        "ERR invalid expire time in 'expire' command"
    } else {
        "ERR invalid expire time in 'pexpire' command"
    };
    let now = ctx.db.now() as i64;
    let at = expiry_deadline(amount, name == "expire", Some(ctx.db.now())).ok_or(bad)?;
    let Some(current) = ctx.db.live(key).map(|e| e.expires_at) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let allowed = match condition.as_slice() {
        b"nx" => current.is_none(),
        b"xx" => current.is_some(),
        b"gt" => current.is_some_and(|c| at > c as i64),
        b"lt" => current.is_none_or(|c| at < c as i64),
        _ => true,
    };
    if !allowed {
        ctx.reply.int(0);
        return Ok(());
    }
    if at <= now {
        ctx.db.delete(key, KeyspaceEvent::Del);
    } else {
        ctx.db.set_expiry(key, Some(at as u64));
        ctx.db.notify(KeyspaceEvent::Expire, key);
    }
    ctx.reply.int(1);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: Args, unit_ms: u64) -> Result<(), &'static str> {
    let key = args.text(1)?;
    let now = ctx.db.now();
    let is_view = ctx.db.views.contains_key(key);
    let reply = match ctx.db.live(key) {
        None if is_view => -1,
        None => -2,
        Some(entry) => match entry.expires_at {
            None => -1,
            Some(at) => {
                let left = at.saturating_sub(now);
                ((left + unit_ms / 2) / unit_ms) as i64
            }
        },
    };
    ctx.reply.int(reply);
    Ok(())
}

fn persist(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let key = args.text(1)?;
    let had = ctx.db.live(key).is_some_and(|e| e.expires_at.is_some());
    if had {
        ctx.db.set_expiry(key, None);
        ctx.db.notify(KeyspaceEvent::Persist, key);
    }
    ctx.reply.int(i64::from(had));
    Ok(())
}

/// Every live key and view name matching `pattern`.
fn matching(ctx: &mut Ctx, pattern: &[u8]) -> Vec<Arc<str>> {
    let now = ctx.db.now();
    let live = ctx
        .db
        .keys
        .iter()
        .filter(|(_, e)| e.expires_at.is_none_or(|at| at > now))
        .map(|(k, _)| k);
    live.chain(ctx.db.views.keys())
        .filter(|k| glob_match(pattern, k.as_bytes()))
        .cloned()
        .collect()
}

fn keys(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let found = matching(ctx, args.get(1));
    ctx.reply.array(found.len());
    for key in found {
        ctx.reply.bulk(key.as_bytes());
    }
    Ok(())
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`.
struct ScanArgs<'a> {
    cursor: u64,
    pattern: &'a [u8],
    count: usize,
    only_strings: bool,
}

fn scan_args<'a>(args: Args<'a>) -> Result<ScanArgs<'a>, &'static str> {
    let cursor: u64 = std::str::from_utf8(args.get(1))
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or("ERR invalid cursor")?;
    let mut scan = ScanArgs {
        cursor,
        pattern: b"*",
        count: 10,
        only_strings: true,
    };
    for index in (2..args.len()).step_by(2) {
        match args.get(index).to_ascii_lowercase().as_slice() {
            b"match" => scan.pattern = args.get(index + 1),
            b"count" => {
                scan.count = usize::try_from(args.int(index + 1)?)
                    .ok()
                    .filter(|c| *c > 0)
                    .ok_or(SYNTAX)?
            }
            b"type" => scan.only_strings = args.is(index + 1, "string"),
            _ => return Err(SYNTAX),
        }
    }
    Ok(scan)
}

fn scan(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    if args.len() < 2 || !args.len().is_multiple_of(2) {
        ctx.wrong_args("scan");
        return Ok(());
    }
    let scan = scan_args(args)?;
    let db = &mut *ctx.db;
    if scan.cursor == 0 || db.keys.view_order().is_none() {
        db.keys.take_view_order(db.views.keys());
    }
    let now = db.now();
    let orders: Vec<&ScanOrder> = [Some(db.keys.scan_order()), db.keys.view_order()]
        .into_iter()
        .flatten()
        .collect();
    let (next, names) = scan_page(&orders, scan.cursor, scan.count);
    let present = |name: &&Arc<str>| match db.keys.entry(name) {
        Some(entry) => entry.expires_at.is_none_or(|at| at > now),
        None => db.views.contains_key(&***name),
    };
    let page: Vec<&Arc<str>> = names
        .into_iter()
        .filter(present)
        .filter(|k| scan.only_strings && glob_match(scan.pattern, k.as_bytes()))
        .collect();
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(page.len());
    for key in page {
        ctx.reply.bulk(key.as_bytes());
    }
    Ok(())
}

fn key_type(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let found = args.text(1).ok().and_then(|k| ctx.db.read(k)).is_some();
    ctx.reply.simple(if found { "string" } else { "none" });
    Ok(())
}

fn flush(ctx: &mut Ctx) -> Result<(), &'static str> {
    let keys: Vec<Arc<str>> = ctx.db.keys.iter().map(|(k, _)| k.clone()).collect();
    for key in keys {
        ctx.db.delete(&key, KeyspaceEvent::Del);
    }
    ctx.db.keys.clear_deadlines();
    ctx.reply.ok();
    Ok(())
}
