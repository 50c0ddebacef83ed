//! A store shard: the live state of the keys one worker owns. The timely operator around it
//! (`shard_operator`) routes mutations here and logs them first.
//!
//! A shard keeps a live key's value as it came when it is a scalar, and, once it holds more
//! than [`PACK_FROM_KEYS`] keys, a map's or a list's in the log's binary form ([`Kept`]). Decision: a parsed map is a tree of small
//! allocations, about five times its binary form, and a shard holds every live key for the
//! whole run; the tree is needed only while the event that wrote it is in the dataflow, and
//! a kept value is decoded only when its key is overwritten or deleted (the event's `old`)
//! or a snapshot is written. Over a stream of Nexmark bids (every key new) this took peak
//! memory from 1.1 GB to about a third, and the time the run spent having the kernel zero
//! new pages with it.
//!
//! `seq` is the mutation's position in its source (line number for files, arrival order for
//! the network), not a per-shard counter: it is then a function of the input alone, so rows
//! that show it are the same with 1 worker or 4. It still increases within every shard, so
//! `(shard, seq)` works as a resume token.

use foldhash::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::KeyPattern;
use super::wal::value_codec::{decode_value, encode_value, encoded_len};
use crate::change::shared_row::SharedRow;
use crate::change::{ChangeEvent, EventKind, Mutation, Op};
use crate::value::Value;

/// A mutation on its way to its shard: its position in the source, the largest event time
/// seen before it (for lateness, see `change::time`) and the mutation with `ts` filled in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ingest {
    pub seq: u64,
    pub max_seen: u64,
    pub ts: u64,
    pub mutation: Mutation,
    /// The worker whose shard applies it, or [`ROUTE_BY_KEY`]: its key's owner.
    pub route: u32,
}

/// An [`Ingest`] that goes to its key's owner ([`owner_of`]).
pub const ROUTE_BY_KEY: u32 = u32::MAX;

impl Ingest {
    /// An ingest that goes to its key's owner.
    pub fn by_key(seq: u64, max_seen: u64, ts: u64, mutation: Mutation) -> Ingest {
        Ingest {
            seq,
            max_seen,
            ts,
            mutation,
            route: ROUTE_BY_KEY,
        }
    }

    /// The index of the worker whose shard applies it, among `peers`.
    pub fn target(&self, peers: usize) -> u64 {
        match self.route {
            ROUTE_BY_KEY => key_hash(&self.mutation.key) % peers as u64,
            worker => u64::from(worker),
        }
    }
}

/// What a shard emits for one applied mutation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Change {
    pub event: ChangeEvent,
    /// The value this change replaced, if any (to retract its table row).
    pub prev: Option<Previous>,
    pub max_seen: u64,
    /// A live key put back from a snapshot when a restart begins past a retention floor:
    /// part of the table, but not an event (see `runtime::durable::retention`).
    pub seeded: bool,
    /// The replaced value in its packed form, when [`ShardState::apply_deferred`] left
    /// `event.old` NULL for it: read it with [`Change::old`].
    pub packed_old: Option<Arc<[u8]>>,
    /// The change's row of the events view, made once for the sources that read it in place.
    #[serde(skip)]
    pub events_row: SharedRow,
}

impl Change {
    /// The value this change replaced (NULL for an insert), decoded if it was deferred.
    pub fn old(&self) -> Value {
        match &self.packed_old {
            Some(bytes) => unpack(bytes),
            None => self.event.old.clone(),
        }
    }

    /// The change with `event.old` filled in.
    pub fn with_old(mut self) -> Change {
        if let Some(bytes) = self.packed_old.take() {
            self.event.old = unpack(&bytes);
        }
        self
    }
}

fn unpack(bytes: &[u8]) -> Value {
    decode_value(bytes).expect("a shard decodes the values it encoded itself")
}

/// The row a change replaced: its `ts`, `seq`, and the largest ts seen before it was written
/// (so a view can tell whether that row was late, and then not retract what it never took).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Previous {
    pub ts: u64,
    pub seq: u64,
    pub max_seen: u64,
}

/// FNV-1a: stable across processes and releases, so every process agrees on owners.
pub fn key_hash(key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A stable FNV-1a hasher for any `Hash` value (std's default hasher is seeded per process).
#[derive(Default)]
pub struct StableHasher(u64);

impl std::hash::Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// The stable hash of any `Hash` value, the same in every process.
pub fn stable_hash<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::default();
    value.hash(&mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// The worker that owns `key` among `peers` workers.
pub fn owner_of(key: &str, peers: usize) -> usize {
    (key_hash(key) % peers as u64) as usize
}

/// The kind of change `op` makes to a key that held a value (`existed`) or not: an insert,
/// an update or a delete, and `None` for a delete of a missing key, which changes nothing.
/// Every event kind in kvflow is decided here (the shards, and the server for its change
/// stream).
pub fn event_kind(op: Op, existed: bool) -> Option<EventKind> {
    match (op, existed) {
        (Op::Put, true) => Some(EventKind::Update),
        (Op::Put, false) => Some(EventKind::Insert),
        (Op::Delete, true) => Some(EventKind::Delete),
        (Op::Delete, false) => None,
    }
}

/// A live key's value and where it came from (what a snapshot keeps per key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub value: Value,
    pub ts: u64,
    pub seq: u64,
    pub max_seen: u64,
    /// The node the value was first written on (`None`: this one).
    pub origin: Option<Arc<str>>,
}

/// A shard this large keeps maps and lists packed (see the module doc): below it, the trees
/// take little memory, and packing would cost a store that is mostly overwritten a few
/// percent of its time.
const PACK_FROM_KEYS: usize = 16 * 1024;

/// A value as a shard keeps it (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kept {
    Value(Value),
    Packed(Arc<[u8]>),
}

impl Kept {
    /// `scratch` is reused between calls, so the packed form is allocated once, at its size.
    fn keep(value: &Value, pack: bool, scratch: &mut Vec<u8>) -> Kept {
        match value {
            Value::Map(_) | Value::List(_) if pack => {
                scratch.clear();
                encode_value(value, scratch);
                Kept::Packed(Arc::from(scratch.as_slice()))
            }
            other => Kept::Value(other.clone()),
        }
    }

    fn value(&self) -> Value {
        match self {
            Kept::Value(value) => value.clone(),
            Kept::Packed(bytes) => unpack(bytes),
        }
    }

    /// The length of the value's binary form (its packed bytes, when packed).
    fn encoded_len(&self) -> usize {
        match self {
            Kept::Value(value) => encoded_len(value),
            Kept::Packed(bytes) => bytes.len(),
        }
    }
}

/// A live key's entry: its value kept, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    value: Kept,
    ts: u64,
    seq: u64,
    max_seen: u64,
    origin: Option<Arc<str>>,
}

impl Entry {
    fn new(stored: &Stored) -> Entry {
        Entry {
            value: Kept::keep(&stored.value, true, &mut Vec::new()),
            ts: stored.ts,
            seq: stored.seq,
            max_seen: stored.max_seen,
            origin: stored.origin.clone(),
        }
    }

    fn stored(&self) -> Stored {
        Stored {
            value: self.value.value(),
            ts: self.ts,
            seq: self.seq,
            max_seen: self.max_seen,
            origin: self.origin.clone(),
        }
    }

    fn previous(&self) -> Previous {
        Previous {
            ts: self.ts,
            seq: self.seq,
            max_seen: self.max_seen,
        }
    }
}

/// The live keys of one shard.
#[derive(Debug, Default)]
pub struct ShardState {
    /// NB: boxed, so that growing the table moves a pointer per key, not the entry.
    entries: HashMap<Arc<str>, Box<Entry>>,
    /// The bytes of the live keys and of their values' binary form (see [`Self::bytes`]),
    /// when `counts_bytes`.
    bytes: usize,
    counts_bytes: bool,
    scratch: Vec<u8>,
    /// Deletes of keys that did not exist: no event, counted.
    pub missing_deletes: u64,
    /// Keys the store does not keep (see [`AppendOnlyKeys`]).
    append_only: Option<AppendOnlyKeys>,
}

/// The keys a plan declares append-only (`[store] append_only_keys`): each is written once,
/// as a new row of an append-only stream (a bid, a click, a log line), so the store keeps
/// none of them. A put of one is an insert with no old value, which the table view keeps as a
/// row that is never retracted; a delete of one finds nothing to delete and, like any delete
/// of a missing key, is counted and makes no event.
///
/// Decision: the user declares the keys, as a Kafka topic is declared a stream or a table and
/// a Materialize source append-only or upsert. The store cannot work it out from the plan: a
/// delete is an event only when its key is live, so even a plan that never reads `kind`,
/// `old` or the table view depends on every key the store holds. Over a stream of new keys
/// the store then stays flat however long the stream, and a put costs no table update.
#[derive(Clone, Debug)]
pub struct AppendOnlyKeys(pub KeyPattern);

impl AppendOnlyKeys {
    pub fn contains(&self, key: &str) -> bool {
        self.0.is_match(key)
    }
}

impl ShardState {
    /// Applies one mutation; `None` for a delete of a missing key.
    pub fn apply(&mut self, ingest: Ingest) -> Option<Change> {
        self.apply_deferred(ingest).map(Change::with_old)
    }

    /// [`Self::apply`], leaving a packed replaced value packed in [`Change::packed_old`]:
    /// decoding it is paid only by a reader of `old`.
    pub fn apply_deferred(&mut self, ingest: Ingest) -> Option<Change> {
        let Ingest {
            seq,
            max_seen,
            ts,
            mutation:
                Mutation {
                    key,
                    op,
                    value,
                    origin,
                    ..
                },
            ..
        } = ingest;
        // NB: an append-only key is never kept, so its put inserts and its delete finds
        // nothing, as for a key the shard does not hold.
        let kept = !self
            .append_only
            .as_ref()
            .is_some_and(|keys| keys.contains(&key));
        let replaced = match op {
            _ if !kept => None,
            Op::Put => {
                let pack = self.entries.len() >= PACK_FROM_KEYS;
                let entry = Entry {
                    value: Kept::keep(&value, pack, &mut self.scratch),
                    ts,
                    seq,
                    max_seen,
                    origin: origin.clone(),
                };
                self.put(&key, entry)
            }
            Op::Delete => {
                let removed = self.entries.remove(&*key).map(|entry| *entry);
                if self.counts_bytes {
                    self.forget(&key, removed.as_ref());
                }
                removed
            }
        };
        let Some(kind) = event_kind(op, replaced.is_some()) else {
            self.missing_deletes += 1;
            return None;
        };
        let prev = replaced.as_ref().map(Entry::previous);
        let (old, packed_old) = match replaced.map(|entry| entry.value) {
            None => (Value::Null, None),
            Some(Kept::Value(old)) => (old, None),
            Some(Kept::Packed(bytes)) => (Value::Null, Some(bytes)),
        };
        let new = if op == Op::Put { value } else { Value::Null };
        Some(Change {
            event: ChangeEvent {
                seq,
                ts,
                kind,
                key,
                old,
                new,
                origin,
            },
            prev,
            max_seen,
            seeded: false,
            packed_old,
            events_row: SharedRow::default(),
        })
    }

    /// Stores `entry` under `key`; returns the entry it replaced. NB: an overwrite reuses the
    /// key's box, so a store that is mostly overwritten allocates no entries.
    fn put(&mut self, key: &Arc<str>, entry: Entry) -> Option<Entry> {
        if self.counts_bytes {
            return self.put_counted(key, entry);
        }
        self.replace(key, entry)
    }

    #[inline(always)]
    fn replace(&mut self, key: &Arc<str>, entry: Entry) -> Option<Entry> {
        match self.entries.get_mut(&**key) {
            Some(kept) => Some(std::mem::replace(&mut **kept, entry)),
            None => {
                self.entries.insert(key.clone(), Box::new(entry));
                None
            }
        }
    }

    /// [`Self::put`] in a shard that counts its bytes. NB: apart, so the count costs nothing
    /// to a shard that does not.
    #[cold]
    #[inline(never)]
    fn put_counted(&mut self, key: &Arc<str>, entry: Entry) -> Option<Entry> {
        self.bytes += key.len() + entry.value.encoded_len();
        let replaced = self.replace(key, entry);
        self.forget(key, replaced.as_ref());
        replaced
    }

    /// Takes a removed or replaced entry of `key` out of [`Self::bytes`].
    #[cold]
    #[inline(never)]
    fn forget(&mut self, key: &str, entry: Option<&Entry>) {
        if let Some(entry) = entry {
            self.bytes -= key.len() + entry.value.encoded_len();
        }
    }

    /// A shard that counts the bytes it holds ([`Self::bytes`]); the count costs a walk of
    /// each value not packed, so only a run that serves metrics asks for it.
    pub fn counting_bytes() -> ShardState {
        ShardState {
            counts_bytes: true,
            ..ShardState::default()
        }
    }

    /// The shard, keeping none of `keys` (see [`AppendOnlyKeys`]).
    pub fn with_append_only(self, keys: Option<AppendOnlyKeys>) -> ShardState {
        ShardState {
            append_only: keys,
            ..self
        }
    }

    /// The bytes of the live keys and of their values in the log's binary form: what the
    /// shard holds, less the maps' and allocator's overhead. Zero unless the shard was made
    /// by [`Self::counting_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Puts back a snapshot's keys and returns them as seeded inserts, in seq order.
    pub fn seed(&mut self, entries: Vec<(Arc<str>, Stored)>) -> Vec<Change> {
        let mut changes: Vec<Change> = entries
            .iter()
            .map(|(key, stored)| Change {
                event: ChangeEvent {
                    seq: stored.seq,
                    ts: stored.ts,
                    kind: EventKind::Insert,
                    key: key.clone(),
                    old: Value::Null,
                    new: stored.value.clone(),
                    origin: stored.origin.clone(),
                },
                prev: None,
                max_seen: stored.max_seen,
                seeded: true,
                packed_old: None,
                events_row: SharedRow::default(),
            })
            .collect();
        changes.sort_by_key(|c| c.event.seq);
        for (key, stored) in entries {
            self.restore(key, stored);
        }
        changes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries.get(key).map(|e| e.value.value())
    }

    /// Every live key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, Stored)> {
        self.entries
            .iter()
            .map(|(key, entry)| (key, entry.stored()))
    }

    /// Puts a key back as a snapshot recorded it (no event).
    pub fn restore(&mut self, key: Arc<str>, stored: Stored) {
        self.put(&key, Entry::new(&stored));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(seq: u64, m: Mutation) -> Ingest {
        let ts = m.ts.unwrap_or(0);
        Ingest::by_key(seq, 0, ts, m)
    }

    /// The bytes of every live key and its value's binary form, encoded afresh.
    fn bytes_of(shard: &ShardState) -> usize {
        let encoded = |value: &Value| {
            let mut bytes = Vec::new();
            encode_value(value, &mut bytes);
            bytes.len()
        };
        shard.iter().map(|(k, s)| k.len() + encoded(&s.value)).sum()
    }

    #[test]
    fn the_shard_counts_the_bytes_it_holds_through_puts_deletes_and_packing() {
        let mut rng = crate::rng::Rng::new(7, 0);
        let mut shard = ShardState::counting_bytes();
        let keys = PACK_FROM_KEYS as u64 + 4000;
        for seq in 0..3 * keys {
            let key = format!("key_{}", rng.below(keys));
            let mutation = match rng.below(10) {
                0 => Mutation::delete(key.as_str(), seq),
                1..=4 => Mutation::put(key.as_str(), Value::from(format!("s{seq}")), seq),
                _ => {
                    let fields = [("n".to_string(), Value::Int(seq as i64))];
                    Mutation::put(key.as_str(), Value::map(fields), seq)
                }
            };
            shard.apply_deferred(ingest(seq, mutation));
            if seq % 5000 == 0 {
                assert_eq!(shard.bytes(), bytes_of(&shard), "after {seq}");
            }
        }
        assert!(shard.len() > PACK_FROM_KEYS, "the shard packs");
        assert_eq!(shard.bytes(), bytes_of(&shard));
        let mut restored = ShardState::counting_bytes();
        let entries: Vec<_> = shard.iter().map(|(k, s)| (k.clone(), s)).collect();
        restored.seed(entries.clone());
        restored.seed(entries);
        assert_eq!(
            restored.bytes(),
            shard.bytes(),
            "a seed twice holds each key once"
        );
    }

    #[test]
    fn kinds_follow_the_shard_state() {
        let mut shard = ShardState::default();
        let a = shard
            .apply(ingest(0, Mutation::put("k", Value::Int(1), 10)))
            .unwrap();
        assert_eq!(a.event.kind, EventKind::Insert);
        assert_eq!(a.prev, None);
        let b = shard
            .apply(ingest(1, Mutation::put("k", Value::Int(2), 20)))
            .unwrap();
        assert_eq!(b.event.kind, EventKind::Update);
        assert_eq!(b.event.old, Value::Int(1));
        assert_eq!(b.prev.map(|p| (p.ts, p.seq)), Some((10, 0)));
        let c = shard.apply(ingest(2, Mutation::delete("k", 30))).unwrap();
        assert_eq!(c.event.kind, EventKind::Delete);
        assert_eq!(
            (c.event.old.clone(), c.event.new.clone()),
            (Value::Int(2), Value::Null)
        );
        assert!(shard.apply(ingest(3, Mutation::delete("k", 40))).is_none());
        assert_eq!(shard.missing_deletes, 1);
        assert!(shard.is_empty());
    }

    #[test]
    fn append_only_keys_are_inserts_the_shard_does_not_keep() {
        let keys = AppendOnlyKeys(KeyPattern::new("^bid_").unwrap());
        let mut shard = ShardState::counting_bytes().with_append_only(Some(keys));
        let mut kinds = Vec::new();
        let mutations = [
            Mutation::put("bid_1", Value::Int(1), 10),
            Mutation::put("user_1", Value::Int(1), 11),
            Mutation::put("bid_1", Value::Int(2), 12),
            Mutation::put("user_1", Value::Int(2), 13),
            Mutation::delete("bid_1", 14),
            Mutation::delete("user_1", 15),
        ];
        for (seq, m) in mutations.into_iter().enumerate() {
            let change = shard.apply(ingest(seq as u64, m));
            kinds.push(change.map(|c| {
                (
                    c.event.key.to_string(),
                    c.event.kind,
                    c.event.old,
                    c.prev.is_some(),
                )
            }));
            let kept: Vec<&str> = shard.iter().map(|(k, _)| &**k).collect();
            assert!(!kept.contains(&"bid_1"), "after mutation {seq}: {kept:?}");
        }
        use EventKind::*;
        let expected = [
            Some(("bid_1".to_string(), Insert, Value::Null, false)),
            Some(("user_1".to_string(), Insert, Value::Null, false)),
            Some(("bid_1".to_string(), Insert, Value::Null, false)),
            Some(("user_1".to_string(), Update, Value::Int(1), true)),
            None,
            Some(("user_1".to_string(), Delete, Value::Int(2), true)),
        ];
        assert_eq!(kinds, expected);
        assert_eq!(shard.missing_deletes, 1);
        assert_eq!((shard.len(), shard.bytes()), (0, 0));
    }

    #[test]
    fn a_change_keeps_its_mutations_origin() {
        let mut shard = ShardState::default();
        let remote = Mutation::put("k", Value::Int(1), 10).with_origin("node-b");
        let a = shard.apply(ingest(0, remote)).unwrap();
        assert_eq!(a.event.origin.as_deref(), Some("node-b"));
        let b = shard
            .apply(ingest(1, Mutation::put("k", Value::Int(2), 20)))
            .unwrap();
        assert_eq!(b.event.origin, None);
    }

    /// A map or a list kept packed comes back equal as the next change's `old`, from `get`
    /// and from `iter`; a scalar is kept as it is.
    #[test]
    fn kept_values_come_back_whole() {
        let mut shard = ShardState::default();
        for i in 0..PACK_FROM_KEYS {
            shard.apply(ingest(0, Mutation::put(format!("f{i}"), Value::Int(0), 1)));
        }
        let map = Value::parse_json(r#"{"a":[1,2.5,"x"],"b":{"c":null},"d":-0.0}"#).unwrap();
        let list = Value::parse_json(r#"[{"e":"é"},[],true]"#).unwrap();
        shard.apply(ingest(0, Mutation::put("m", map.clone(), 10)));
        shard.apply(ingest(1, Mutation::put("l", list.clone(), 10)));
        shard.apply(ingest(2, Mutation::put("s", Value::from("text"), 10)));
        assert_eq!(shard.get("m"), Some(map.clone()));
        let packed = |key: &str| matches!(shard.entries[key].value, Kept::Packed(_));
        assert!(packed("m") && packed("l") && !packed("s"));
        let mut listed: Vec<(String, Value)> = shard
            .iter()
            .filter(|(k, _)| !k.starts_with('f'))
            .map(|(k, s)| (k.to_string(), s.value))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let expected = [
            ("l", list.clone()),
            ("m", map.clone()),
            ("s", Value::from("text")),
        ];
        let expected: Vec<(String, Value)> = expected
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(listed, expected);
        let change = shard.apply(ingest(3, Mutation::delete("m", 20))).unwrap();
        assert_eq!(change.event.old, map);
        let change = shard
            .apply(ingest(4, Mutation::put("l", Value::Int(1), 20)))
            .unwrap();
        assert_eq!(change.event.old, list);
    }

    #[test]
    fn owners_are_stable() {
        assert_eq!(key_hash("user_17"), key_hash("user_17"));
        assert!(owner_of("user_17", 4) < 4);
    }
}
