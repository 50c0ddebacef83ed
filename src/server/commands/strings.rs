//! String commands: GET, SET (NX/XX/GET/EX/PX/EXAT/PXAT/KEEPTTL), GETDEL, MGET, MSET,
//! INCR/INCRBY/DECR/DECRBY, APPEND, STRLEN.

use std::sync::Arc;

use super::{Args, Ctx, NOT_INT, SYNTAX, parse_int};
use crate::server::notify::KeyspaceEvent;

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    let result = match name {
        "get" => arity(ctx, args, 2, name).and_then(|_| get(ctx, args)),
        "set" => set(ctx, args),
        "getdel" => arity(ctx, args, 2, name).and_then(|_| getdel(ctx, args)),
        "mget" => mget(ctx, args),
        "mset" => mset(ctx, args),
        "incr" => {
            arity(ctx, args, 2, name).and_then(|_| incr_by(ctx, args, 1, KeyspaceEvent::IncrBy))
        }
        "decr" => {
            arity(ctx, args, 2, name).and_then(|_| incr_by(ctx, args, -1, KeyspaceEvent::DecrBy))
        }
        "incrby" => arity(ctx, args, 3, name)
            .and_then(|_| args.int(2))
            .and_then(|by| incr_by(ctx, args, by, KeyspaceEvent::IncrBy)),
        "decrby" => arity(ctx, args, 3, name)
            .and_then(|_| args.int(2))
            .and_then(|by| by.checked_neg().ok_or(NOT_INT))
            .and_then(|by| incr_by(ctx, args, by, KeyspaceEvent::DecrBy)),
        "append" => arity(ctx, args, 3, name).and_then(|_| append(ctx, args)),
        "strlen" => arity(ctx, args, 2, name).and_then(|_| strlen(ctx, args)),
        _ => return false,
    };
    super::finish(ctx, result);
    true
}

/// Checks an exact argument count (the error is already sent when it fails).
pub(super) fn arity(ctx: &mut Ctx, args: Args, n: usize, name: &str) -> Result<(), &'static str> {
    if args.len() == n {
        return Ok(());
    }
    ctx.wrong_args(name);
    Err("")
}

/// Refuses writes to a key that holds a pipeline's view.
pub(super) fn writable(ctx: &Ctx, key: &str) -> Result<(), &'static str> {
    if ctx.server.is_view_key(key) {
        return Err("ERR view keys are written by their pipeline and are read-only");
    }
    Ok(())
}

fn get(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let key = args.text(1)?;
    match ctx.db.read(key) {
        Some(text) => ctx.reply.bulk(text.as_bytes()),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// The options of `SET`.
#[derive(Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    expires_at: Option<u64>,
}

fn set_options(args: Args, now: u64) -> Result<SetOptions, &'static str> {
    let mut options = SetOptions::default();
    let mut expiry_given = false;
    let mut index = 3;
    while index < args.len() {
        let word = args.get(index).to_ascii_lowercase();
        match word.as_slice() {
            b"nx" if !options.xx => options.nx = true,
            b"xx" if !options.nx => options.xx = true,
            b"get" => options.get = true,
            b"keepttl" if !expiry_given => options.keep_ttl = true,
            b"ex" | b"px" | b"exat" | b"pxat" if !expiry_given && !options.keep_ttl => {
                index += 1;
                if index >= args.len() {
                    return Err(SYNTAX);
                }
                let n = args.int(index)?;
                options.expires_at = Some(deadline(&word, n, now).ok_or(BAD_EXPIRE_SET)?);
                expiry_given = true;
            }
            _ => return Err(SYNTAX),
        }
        index += 1;
    }
    Ok(options)
}

const BAD_EXPIRE_SET: &str = "ERR invalid expire time in 'set' command";

/// The absolute deadline (ms) of an `EX`/`PX`/`EXAT`/`PXAT` amount; `None` when not positive
/// or past what a deadline can be.
fn deadline(unit: &[u8], n: i64, now: u64) -> Option<u64> {
    if n <= 0 {
        return None;
    }
    let relative = matches!(unit, b"ex" | b"px");
    let seconds = matches!(unit, b"ex" | b"exat");
    let at = expiry_deadline(n, seconds, relative.then_some(now))?;
    u64::try_from(at).ok().filter(|at| *at > 0)
}

/// The deadline (ms since the epoch) of an expiry amount in seconds or milliseconds, from
/// `now` or absolute. As in Redis, a deadline is a signed 64-bit count of milliseconds:
/// `None` past that, so `SET EX` and `EXPIRE` accept the same amounts (and a deadline
/// always fits the signed arithmetic of `TTL` and `EXPIRE GT/LT`).
pub(super) fn expiry_deadline(n: i64, seconds: bool, now: Option<u64>) -> Option<i64> {
    let ms = if seconds { n.checked_mul(1000)? } else { n };
    match now {
        Some(now) => ms.checked_add(i64::try_from(now).ok()?),
        None => Some(ms),
    }
}

fn set(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    if args.len() < 3 {
        ctx.wrong_args("set");
        return Ok(());
    }
    let key = args.text(1)?;
    let text = args.text(2)?;
    let options = set_options(args, ctx.db.now())?;
    writable(ctx, key)?;
    let old = ctx.db.live(key).cloned();
    let blocked = (options.nx && old.is_some()) || (options.xx && old.is_none());
    if options.get {
        match &old {
            Some(entry) => ctx.reply.bulk(entry.text.as_bytes()),
            None => ctx.reply.null(),
        }
    } else if blocked {
        ctx.reply.null();
    } else {
        ctx.reply.ok();
    }
    if blocked {
        return Ok(());
    }
    let expires_at = match options.keep_ttl {
        true => old.and_then(|o| o.expires_at),
        false => options.expires_at,
    };
    ctx.db
        .put(key, Arc::from(text), expires_at, KeyspaceEvent::Set);
    if options.expires_at.is_some() {
        ctx.db.notify(KeyspaceEvent::Expire, key);
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let key = args.text(1)?;
    writable(ctx, key)?;
    match ctx.db.live(key).map(|e| e.text.clone()) {
        Some(text) => {
            ctx.reply.bulk(text.as_bytes());
            ctx.db.delete(key, KeyspaceEvent::Del);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    if args.len() < 2 {
        ctx.wrong_args("mget");
        return Ok(());
    }
    ctx.reply.array(args.len() - 1);
    for index in 1..args.len() {
        match args.text(index).ok().and_then(|key| ctx.db.read(key)) {
            Some(text) => ctx.reply.bulk(text.as_bytes()),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    if args.len() < 3 || args.len().is_multiple_of(2) {
        ctx.wrong_args("mset");
        return Ok(());
    }
    for index in (1..args.len()).step_by(2) {
        writable(ctx, args.text(index)?)?;
        args.text(index + 1)?;
    }
    for index in (1..args.len()).step_by(2) {
        let (key, text) = (args.text(index)?, args.text(index + 1)?);
        ctx.db.put(key, Arc::from(text), None, KeyspaceEvent::Set);
    }
    ctx.reply.ok();
    Ok(())
}

fn incr_by(ctx: &mut Ctx, args: Args, by: i64, event: KeyspaceEvent) -> Result<(), &'static str> {
    let key = args.text(1)?;
    writable(ctx, key)?;
    let (current, expires_at) = match ctx.db.live(key) {
        Some(entry) => (
            parse_int(entry.text.as_bytes()).ok_or(NOT_INT)?,
            entry.expires_at,
        ),
        None => (0, None),
    };
    let next = current
        .checked_add(by)
        .ok_or("ERR increment or decrement would overflow")?;
    let text = itoa::Buffer::new().format(next).to_owned();
    ctx.db.put(key, Arc::from(text), expires_at, event);
    ctx.reply.int(next);
    Ok(())
}

fn append(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let key = args.text(1)?;
    let tail = args.text(2)?;
    writable(ctx, key)?;
    let (mut text, expires_at) = match ctx.db.live(key) {
        Some(entry) => (entry.text.to_string(), entry.expires_at),
        None => (String::new(), None),
    };
    text.push_str(tail);
    let len = text.len();
    ctx.db
        .put(key, Arc::from(text), expires_at, KeyspaceEvent::Append);
    ctx.reply.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let key = args.text(1)?;
    let len = ctx.db.read(key).map_or(0, |t| t.len());
    ctx.reply.int(len as i64);
    Ok(())
}
