//! `KVFLOW.APPLY SET key value ts origin` and `KVFLOW.APPLY DEL key ts origin`: a change
//! synced from another kvflow node (see `sinks::sync::targets::kvflow`). The change keeps its
//! origin, so this node's own sync never sends it back, and with `--node-id` it is applied
//! only when newer than what the key holds (last-writer-wins on `(ts, origin)`), so two
//! nodes that sync each other converge after concurrent writes. Replies 1 when applied, 0
//! when the key held a newer version.

use std::sync::Arc;

use super::strings::writable;
use crate::change::time::MAX_EVENT_TS;

/// The event times a synced change may carry: those an input line may carry.
const TS_OUT_OF_RANGE: &str =
    "ERR ts must be between 0 and 253402300799999 (ms, the end of the year 9999)";
use super::{Args, Ctx};
use crate::server::notify::KeyspaceEvent;

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    if name != "kvflow.apply" {
        return false;
    }
    let result = apply(ctx, args);
    super::finish(ctx, result);
    true
}

fn apply(ctx: &mut Ctx, args: Args) -> Result<(), &'static str> {
    let set = args.is(1, "set");
    let arity = if set { 6 } else { 5 };
    if args.len() != arity || !(set || args.is(1, "del")) {
        ctx.wrong_args("kvflow.apply");
        return Ok(());
    }
    let key = args.text(2)?;
    writable(ctx, key)?;
    let ts = u64::try_from(args.int(arity - 2)?)
        .ok()
        .filter(|ts| *ts <= MAX_EVENT_TS)
        .ok_or(TS_OUT_OF_RANGE)?;
    let origin: Arc<str> = args.text(arity - 1)?.into();
    let applied = if set {
        let text: Arc<str> = args.text(3)?.into();
        ctx.db.apply_synced(key, (ts, origin), |db| {
            db.put(key, text, None, KeyspaceEvent::Set)
        })
    } else {
        ctx.db.apply_synced(key, (ts, origin), |db| {
            db.delete(key, KeyspaceEvent::Del);
        })
    };
    ctx.reply.int(i64::from(applied));
    Ok(())
}
