//! Everything a command touches, behind the server's one lock: the keyspace, the views,
//! the change ring, pub/sub, and the writes not yet handed to the dataflow.
//!
//! Decision — one lock, taken once per pipelined request (not per command): a connection
//! parses every complete request in its read buffer, runs them all under one acquisition and
//! hands the whole group of writes to the dataflow with one push. `seq` is assigned under
//! the same lock, so the order in which writes reach the store is the order in which they
//! were applied here, whichever thread ran them.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;

use super::changes::{ChangeEntry, ChangeRing, StreamId};
use super::expiry_log::ExpiryLog;
use super::keyspace::{Entry, Keyspace, value_of};
use super::notify::{KeyspaceEvent, PubSub};
use crate::change::{Mutation, Op};
use crate::runtime::live_queue::{LiveItem, LiveQueue};
use crate::store::event_kind;

/// The server's state.
pub struct Db {
    pub keys: Keyspace,
    /// Materialized pipeline outputs (read-only keys).
    pub views: HashMap<Arc<str>, Arc<str>>,
    pub changes: ChangeRing,
    pub pubsub: PubSub,
    /// Connections blocked in `XREAD` (their loops are woken on new changes).
    pub blocked_readers: usize,
    next_seq: u64,
    /// The current request's time (ms), never going backwards.
    now: u64,
    pending: Vec<LiveItem>,
    pub expired_keys: u64,
    /// Where expiries are kept across restarts (with a data directory).
    pub expiry_log: Option<ExpiryLog>,
    /// Last-writer-wins versions, kept when the server syncs with other nodes (`--node-id`).
    pub versions: Option<Versions>,
    /// The version and origin of a synced change being applied (`KVFLOW.APPLY`).
    applying: Option<Version>,
    /// Calls of each known command (`INFO commandstats`, the server's metrics).
    pub command_calls: BTreeMap<String, u64>,
}

/// A write's last-writer-wins version: its time (ms) and the node it was made on.
pub type Version = (u64, Arc<str>);

/// The version of every key written (deleted keys too), so a synced change older than what
/// a key holds is refused. It grows with the keys ever written, deleted ones included.
pub struct Versions {
    /// This node's id: the origin of the writes its own clients make.
    pub node: Arc<str>,
    by_key: HashMap<Arc<str>, Version>,
}

impl Versions {
    pub fn new(node: &str) -> Versions {
        Versions {
            node: node.into(),
            by_key: HashMap::default(),
        }
    }

    /// Whether a change at `version` replaces what `key` holds: a newer `(ts, origin)`, or
    /// the same one. An origin's changes arrive in the order it made them, and two made in
    /// one millisecond share a version: refusing the second left the peer on the first
    /// while the origin held the second, and the two nodes never converged.
    pub fn is_newer(&self, key: &str, version: &Version) -> bool {
        self.by_key
            .get(key)
            .is_none_or(|(ts, origin)| (*ts, &**origin) <= (version.0, &*version.1))
    }

    pub fn set(&mut self, key: Arc<str>, version: Version) {
        self.by_key.insert(key, version);
    }
}

impl Db {
    pub fn new(next_seq: u64, last_ts: u64, ring: usize) -> Db {
        Db {
            keys: Keyspace::default(),
            views: HashMap::default(),
            changes: ChangeRing::new(
                ring,
                StreamId {
                    ts: last_ts,
                    seq: next_seq.saturating_sub(1),
                },
            ),
            pubsub: PubSub::default(),
            blocked_readers: 0,
            next_seq,
            now: last_ts,
            pending: Vec::new(),
            expired_keys: 0,
            expiry_log: None,
            versions: None,
            applying: None,
            command_calls: BTreeMap::new(),
        }
    }

    /// Counts a call of the known command `name` (lowercase).
    pub fn count_command(&mut self, name: &str) {
        match self.command_calls.get_mut(name) {
            Some(calls) => *calls += 1,
            None => {
                self.command_calls.insert(name.to_string(), 1);
            }
        }
    }

    /// Runs `write` as the application of a synced change made at `version` (its mutations
    /// carry the change's origin); false, and nothing written, when the key holds a newer
    /// version (last-writer-wins on `(ts, origin)`).
    pub fn apply_synced(
        &mut self,
        key: &str,
        version: Version,
        write: impl FnOnce(&mut Db),
    ) -> bool {
        if self
            .versions
            .as_ref()
            .is_some_and(|v| !v.is_newer(key, &version))
        {
            return false;
        }
        if let Some(versions) = self.versions.as_mut() {
            versions.set(key.into(), version.clone());
        }
        self.applying = Some(version);
        write(self);
        self.applying = None;
        true
    }

    /// Starts a request at wall time `now` (ms).
    pub fn begin(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// The seq the next write will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hands the writes of this request to the dataflow; true when there were any.
    pub fn flush_writes(&mut self, queue: &LiveQueue) -> bool {
        if let Some(log) = self.expiry_log.as_mut() {
            log.flush();
        }
        if self.pending.is_empty() {
            return false;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(64));
        queue.push(batch);
        true
    }

    /// A live key's entry; an expired key is deleted here (an `expired` event).
    pub fn live(&mut self, key: &str) -> Option<&Entry> {
        let expired = self
            .keys
            .entry(key)?
            .expires_at
            .is_some_and(|at| at <= self.now);
        if expired {
            self.delete(key, KeyspaceEvent::Expired);
            return None;
        }
        self.keys.entry(key)
    }

    /// A key's text for reading: a live key or a view.
    pub fn read(&mut self, key: &str) -> Option<Arc<str>> {
        if let Some(entry) = self.live(key) {
            return Some(entry.text.clone());
        }
        self.views.get(key).cloned()
    }

    /// Writes `text` under `key` (keeping `expires_at`), publishing `event`.
    pub fn put(
        &mut self,
        key: &str,
        text: Arc<str>,
        expires_at: Option<u64>,
        event: KeyspaceEvent,
    ) {
        let name = self.keys.shared_key(key).unwrap_or_else(|| key.into());
        let old = self.keys.insert(
            name.clone(),
            Entry {
                text: text.clone(),
                expires_at,
            },
        );
        let value = value_of(&text);
        let had_expiry = old.as_ref().is_some_and(|o| o.expires_at.is_some());
        if let (Some(log), true) = (self.expiry_log.as_mut(), had_expiry || expires_at.is_some()) {
            log.record(self.next_seq, key, expires_at);
        }
        self.record(
            name,
            Op::Put,
            old.map(|o| o.text),
            Some(text),
            event,
            |k, ts| Mutation::put(k, value, ts),
        );
    }

    /// Deletes `key` if it exists, publishing `event` (`del`, `expired`); true if it did.
    pub fn delete(&mut self, key: &str, event: KeyspaceEvent) -> bool {
        let Some(name) = self.keys.shared_key(key) else {
            return false;
        };
        let old = self.keys.remove(key).map(|o| o.text);
        if event == KeyspaceEvent::Expired {
            self.expired_keys += 1;
        }
        self.record(name, Op::Delete, old, None, event, Mutation::delete);
        true
    }

    /// Gives a write its seq, publishes `event`, queues its mutation for the dataflow and
    /// adds it to the change ring, with the kind the store decides for `op` on `old`.
    fn record(
        &mut self,
        key: Arc<str>,
        op: Op,
        old: Option<Arc<str>>,
        new: Option<Arc<str>>,
        event: KeyspaceEvent,
        mutation: impl FnOnce(Arc<str>, u64) -> Mutation,
    ) {
        let Some(kind) = event_kind(op, old.is_some()) else {
            return;
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let ts = self.now;
        self.pubsub.notify_keyspace(event, &key);
        // NB: a synced change keeps the event time it was made at on its origin, so the log
        // holds its last-writer-wins version and a node it is forwarded to sees the same.
        let event_ts = self.applying.as_ref().map_or(ts, |(at, _)| *at);
        let mut change = mutation(key.clone(), event_ts);
        match (&self.applying, &mut self.versions) {
            (Some((_, origin)), _) => change = change.with_origin(origin.clone()),
            (None, Some(versions)) => versions.set(key.clone(), (ts, versions.node.clone())),
            (None, None) => {}
        }
        self.pending.push((seq, change));
        self.changes.push(ChangeEntry {
            id: StreamId { ts, seq },
            kind,
            key,
            old,
            new,
        });
    }

    /// Sets or clears an existing key's expiry; false when the key does not exist.
    pub fn set_expiry(&mut self, key: &str, at: Option<u64>) -> bool {
        if !self.keys.set_expiry(key, at) {
            return false;
        }
        if let Some(log) = self.expiry_log.as_mut() {
            log.record(self.next_seq.saturating_sub(1), key, at);
        }
        true
    }

    /// Publishes an event about a key that is not a write (`expire`, `persist`).
    pub fn notify(&self, event: KeyspaceEvent, key: &str) {
        self.pubsub.notify_keyspace(event, key);
    }

    /// Deletes keys whose expiry passed, at most `limit`; returns how many.
    pub fn expire_due(&mut self, limit: usize) -> usize {
        let mut done = 0;
        while done < limit {
            let Some(key) = self.keys.pop_due(self.now) else {
                break;
            };
            self.delete(&key, KeyspaceEvent::Expired);
            done += 1;
        }
        done
    }

    /// Puts back a key from the logged history at startup (no event).
    pub fn restore(&mut self, key: Arc<str>, text: Option<Arc<str>>) {
        match text {
            Some(text) => {
                self.keys.insert(
                    key,
                    Entry {
                        text,
                        expires_at: None,
                    },
                );
            }
            None => {
                self.keys.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::EventKind;
    use crate::store::{Ingest, ShardState};

    /// Two changes an origin made in one millisecond both apply, in the order they come; an
    /// older version, or an equal time from a smaller origin, does not.
    #[test]
    fn synced_changes_of_one_millisecond_apply_in_order() {
        let mut db = Db::new(0, 0, 100);
        db.versions = Some(Versions::new("b"));
        let set = |db: &mut Db, text: &str, version: (u64, &str)| {
            let text: Arc<str> = text.into();
            db.apply_synced("k", (version.0, version.1.into()), |db| {
                db.put("k", text, None, KeyspaceEvent::Set)
            })
        };
        assert!(set(&mut db, "first", (5, "a")));
        assert!(set(&mut db, "second", (5, "a")));
        assert_eq!(db.read("k").as_deref(), Some("second"));
        assert!(!set(&mut db, "older", (4, "a")));
        assert!(set(&mut db, "later", (5, "c")));
        assert!(!set(&mut db, "smaller origin", (5, "a")));
        assert_eq!(db.read("k").as_deref(), Some("later"));
    }

    /// The server's change ring and the store's shard, given the same writes, agree on every
    /// event kind; the writes carry the request's time.
    #[test]
    fn the_server_and_the_store_decide_the_same_kinds() {
        let mut db = Db::new(0, 0, 100);
        db.begin(1_000);
        db.put("a", "1".into(), None, KeyspaceEvent::Set);
        db.put("a", "2".into(), None, KeyspaceEvent::IncrBy);
        db.put("b", "x".into(), None, KeyspaceEvent::Set);
        assert!(db.delete("a", KeyspaceEvent::Del));
        assert!(
            !db.delete("a", KeyspaceEvent::Del),
            "a delete of a missing key"
        );
        db.begin(2_000);
        db.put("a", "3".into(), Some(1_500), KeyspaceEvent::Set);
        assert_eq!(db.expire_due(10), 1);
        let served: Vec<(u64, EventKind)> = db
            .changes
            .after(StreamId::default(), 100)
            .iter()
            .map(|e| (e.id.ts, e.kind))
            .collect();
        let mut shard = ShardState::default();
        let stored: Vec<(u64, EventKind)> = std::mem::take(&mut db.pending)
            .into_iter()
            .filter_map(|(seq, mutation)| {
                let ts = mutation.ts.unwrap_or_default();
                let ingest = Ingest::by_key(seq, 0, ts, mutation);
                shard.apply(ingest).map(|c| (c.event.ts, c.event.kind))
            })
            .collect();
        use EventKind::*;
        let expected = [
            (1_000, Insert),
            (1_000, Update),
            (1_000, Insert),
            (1_000, Delete),
            (2_000, Insert),
            (2_000, Delete),
        ];
        assert_eq!(served, expected);
        assert_eq!(stored, expected);
        assert_eq!(db.expired_keys, 1);
    }
}
