//! Rebuilding a server's keyspace when it starts on a data directory: the keys and their
//! versions from the logged history, the expiries from their side log.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::db::Db;
use super::expiry_log::{ExpiryLog, read_expiries};
use super::keyspace::text_of;
use crate::change::Op;
use crate::runtime::DurableRun;

/// Rebuilds the keyspace from the logged history (before `until`) and the expiries from
/// their side log (see `server::expiry_log`), which is then rewritten compactly.
pub fn restore_keys(
    db: &mut Db,
    (dir, durable): (&Path, &DurableRun),
    until: u64,
) -> Result<(), String> {
    let mut put_at: HashMap<Arc<str>, u64> = HashMap::new();
    durable.for_each_floor_key(|key, stored| {
        put_at.insert(key.clone(), stored.seq);
        restore_version(db, key, stored.ts, stored.origin.as_ref());
        db.restore(key.clone(), Some(text_of(&stored.value)));
    });
    let history = durable.history().map_err(|e| e.to_string())?;
    for item in history {
        let (_, record) = item.map_err(|e| e.to_string())?;
        if record.seq >= until {
            break;
        }
        let text = match record.op {
            Op::Put => Some(text_of(&record.value)),
            Op::Delete => None,
        };
        put_at.insert(record.key.clone(), record.seq);
        restore_version(db, &record.key, record.ts, record.origin.as_ref());
        db.restore(record.key, text);
    }
    let mut live = Vec::new();
    for (key, (seq, at)) in read_expiries(dir)? {
        let current = put_at.get_key_value(key.as_str());
        if let (Some((name, put)), Some(at)) = (current, at)
            && seq >= *put
            && db.keys.set_expiry(&key, Some(at))
        {
            live.push((name.clone(), seq, at));
        }
    }
    db.expiry_log = Some(ExpiryLog::rewrite(dir, &live)?);
    Ok(())
}

/// Puts back a key's last-writer-wins version (`origin` `None`: this node's own write), so
/// a restarted node still refuses older synced writes and keeps its tombstones.
fn restore_version(db: &mut Db, key: &Arc<str>, ts: u64, origin: Option<&Arc<str>>) {
    if let Some(versions) = db.versions.as_mut() {
        let origin = origin.cloned().unwrap_or_else(|| versions.node.clone());
        versions.set(key.clone(), (ts, origin));
    }
}
