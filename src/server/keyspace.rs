//! The server's keys: each key's value as the text a client wrote, and its expiry.
//!
//! Decisions:
//! - **Text is kept as written**, so `GET` returns exactly the bytes of the `SET`. The
//!   mutation sent to the store carries the value the dataflows see ([`value_of`]): JSON
//!   objects, arrays, `true`/`false`/`null` and numbers that read back identically become
//!   JSON values (so `value.amount` works in expressions); anything else is a string.
//!   After a restart the text is rebuilt from the logged value ([`text_of`]): strings and
//!   numbers come back byte for byte; a JSON document comes back as compact JSON with its
//!   object keys sorted.
//! - **Expiry** keeps a min-heap of deadlines checked lazily (a heap entry whose key has
//!   another deadline by now is skipped), so setting a TTL is `O(log n)` and the active
//!   expiry cycle only looks at keys that are due.
//! - **SCAN's order is an ordered index beside the hash map** ([`ScanOrder`]): every key by
//!   its 64-bit hash, then by name. A cursor is a position in that order (a hash), so a
//!   call seeks to it and reads `COUNT` names: `O(log n + COUNT)`, and a key present for a
//!   whole scan is returned exactly once however the keyspace changes, since its position
//!   never moves and each call covers the positions from its cursor up to the next one.
//!   Redis's reverse-binary cursor over its own chained hash table gives the same
//!   guarantees without a second structure, but needs a table whose buckets are visible;
//!   `HashMap` probes openly and hides them, and an ordered map as the only store would
//!   make every `GET` and `SET` a tree search. The index costs about 40 bytes and one
//!   `O(log n)` insert per new key (an overwrite does not touch it). The cursor must be a
//!   number (`redis-cli` and client libraries parse it as one), hence a hash and not the
//!   last key's name. The hash is seeded per process, so no client can make many keys
//!   share a position (a page takes every key of its last position, as Redis takes whole
//!   buckets); a cursor is therefore only meaningful to the process that issued it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::HashMap;
use foldhash::quality::RandomState;

use crate::value::Value;

/// One key's value and its expiry (ms since the epoch).
#[derive(Clone, Debug)]
pub struct Entry {
    pub text: Arc<str>,
    pub expires_at: Option<u64>,
}

/// Every live key of the server.
#[derive(Default)]
pub struct Keyspace {
    map: HashMap<Arc<str>, Entry>,
    /// The keys in SCAN's order.
    order: ScanOrder,
    /// The views' names in SCAN's order, as of the last scan that started (`SCAN 0`).
    views: Option<ScanOrder>,
    deadlines: BinaryHeap<Reverse<(u64, Arc<str>)>>,
}

/// Names in SCAN's order: by their hash (a cursor is one), then by name.
#[derive(Default)]
pub struct ScanOrder {
    hasher: RandomState,
    names: BTreeSet<(u64, Arc<str>)>,
}

impl ScanOrder {
    /// An empty order that places names as `other` does (cursors mean the same in both).
    pub fn like(other: &ScanOrder) -> ScanOrder {
        ScanOrder {
            hasher: other.hasher.clone(),
            names: BTreeSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn insert(&mut self, name: Arc<str>) {
        let hash = self.hasher.hash_one(&*name);
        self.names.insert((hash, name));
    }

    pub fn remove(&mut self, name: &Arc<str>) {
        let hash = self.hasher.hash_one(&**name);
        self.names.remove(&(hash, name.clone()));
    }

    /// The names at or after position `cursor`, in order, with their positions.
    fn from(&self, cursor: u64) -> impl Iterator<Item = &(u64, Arc<str>)> {
        let start: (u64, Arc<str>) = (cursor, Arc::from(""));
        self.names.range(start..)
    }
}

/// One `SCAN` call over `orders` (merged): the first `count` names at or after `cursor`,
/// plus every other name at the last one's position, and the cursor after them (0 once
/// nothing is left). The work is `O(log n + count)`.
pub fn scan_page<'a>(
    orders: &[&'a ScanOrder],
    cursor: u64,
    count: usize,
) -> (u64, Vec<&'a Arc<str>>) {
    let mut sources: Vec<_> = orders.iter().map(|o| o.from(cursor).peekable()).collect();
    let mut page = Vec::new();
    let mut last = None;
    loop {
        let nearest = sources
            .iter_mut()
            .enumerate()
            .filter_map(|(index, source)| source.peek().map(|item| (*item, index)))
            .min();
        let Some((&(hash, _), index)) = nearest else {
            return (0, page);
        };
        if page.len() >= count && last != Some(hash) {
            // NB: `hash` is above `last`, so `last + 1` cannot overflow.
            return (last.map_or(0, |l: u64| l + 1), page);
        }
        if let Some((_, name)) = sources[index].next() {
            page.push(name);
        }
        last = Some(hash);
    }
}

impl Keyspace {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry of `key`, expired or not (the caller decides what expiry means).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    /// The key's shared name, if it exists (saves an allocation on overwrite).
    pub fn shared_key(&self, key: &str) -> Option<Arc<str>> {
        self.map.get_key_value(key).map(|(k, _)| k.clone())
    }

    /// Stores `entry` under `key`; returns the entry it replaced.
    pub fn insert(&mut self, key: Arc<str>, entry: Entry) -> Option<Entry> {
        if let Some(deadline) = entry.expires_at {
            self.deadlines.push(Reverse((deadline, key.clone())));
        }
        let old = self.map.insert(key.clone(), entry);
        if old.is_none() {
            self.order.insert(key);
        }
        old
    }

    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        let (name, entry) = self.map.remove_entry(key)?;
        self.order.remove(&name);
        Some(entry)
    }

    /// The keys in SCAN's order.
    pub fn scan_order(&self) -> &ScanOrder {
        &self.order
    }

    /// The views' names in SCAN's order as last taken by [`Keyspace::take_view_order`].
    pub fn view_order(&self) -> Option<&ScanOrder> {
        self.views.as_ref()
    }

    /// Takes the views' names in SCAN's order. The views are written by the dataflow
    /// without an index, so a scan that starts takes their order once (`O(v log v)`) and
    /// its later calls page through it. A name present for the whole scan is in every
    /// order taken since it started; one removed since is filtered out by the caller.
    pub fn take_view_order<'a>(&mut self, names: impl Iterator<Item = &'a Arc<str>>) {
        let mut order = ScanOrder::like(&self.order);
        for name in names {
            order.insert(name.clone());
        }
        self.views = Some(order);
    }

    /// Sets or clears the expiry of an existing key; false when the key does not exist.
    pub fn set_expiry(&mut self, key: &str, expires_at: Option<u64>) -> bool {
        let Some(name) = self.shared_key(key) else {
            return false;
        };
        if let Some(deadline) = expires_at {
            self.deadlines.push(Reverse((deadline, name.clone())));
        }
        if let Some(entry) = self.map.get_mut(&*name) {
            entry.expires_at = expires_at;
        }
        true
    }

    /// The next key whose deadline is at or before `now`, removed from the deadline heap.
    pub fn pop_due(&mut self, now: u64) -> Option<Arc<str>> {
        while let Some(Reverse((deadline, _))) = self.deadlines.peek() {
            if *deadline > now {
                return None;
            }
            let Reverse((deadline, key)) = self.deadlines.pop()?;
            let current = self.map.get(&*key).and_then(|e| e.expires_at);
            if current == Some(deadline) {
                return Some(key);
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Entry)> {
        self.map.iter()
    }

    pub fn clear_deadlines(&mut self) {
        self.deadlines.clear();
    }
}

/// The value the dataflows see for a text a client wrote (see the module doc).
pub fn value_of(text: &Arc<str>) -> Value {
    let looks_json = matches!(
        text.as_bytes().first(),
        Some(b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    );
    if !looks_json {
        return Value::Str(text.clone());
    }
    match Value::parse_json(text) {
        Ok(value @ (Value::Map(_) | Value::List(_))) => value,
        Ok(value @ (Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null))
            if value.to_json_string() == **text =>
        {
            value
        }
        _ => Value::Str(text.clone()),
    }
}

/// The text of a logged value (the inverse of [`value_of`] up to JSON formatting).
pub fn text_of(value: &Value) -> Arc<str> {
    match value {
        Value::Str(s) => s.clone(),
        other => other.to_json_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_text() {
        for text in [
            "abc", "10", "-3", "1.5", "1.50", "007", "true", "\"q\"", "nul",
        ] {
            let text: Arc<str> = text.into();
            assert_eq!(text_of(&value_of(&text)), text, "{text}");
        }
        let doc: Arc<str> = r#"{"user":"u1","amount":5}"#.into();
        let value = value_of(&doc);
        assert_eq!(value.get("amount"), &Value::Int(5));
        assert_eq!(&*text_of(&value), r#"{"amount":5,"user":"u1"}"#);
    }

    #[test]
    fn due_keys_come_out_once_and_only_with_their_current_deadline() {
        let mut keys = Keyspace::default();
        let entry = |at| Entry {
            text: "v".into(),
            expires_at: Some(at),
        };
        keys.insert("a".into(), entry(10));
        keys.insert("b".into(), entry(20));
        keys.set_expiry("a", Some(30));
        assert_eq!(keys.pop_due(25).as_deref(), Some("b"));
        assert_eq!(keys.pop_due(25), None);
        assert_eq!(keys.pop_due(30).as_deref(), Some("a"));
    }

    fn entry() -> Entry {
        Entry {
            text: "v".into(),
            expires_at: None,
        }
    }

    /// 100K keys, several scans interleaved with seeded inserts and deletes (deleted keys
    /// come back too): every key present for a whole scan is returned, every key returned
    /// existed at some point, and no call reads more than its page.
    #[test]
    fn scans_keep_their_guarantees_under_writes() {
        use crate::workload::rng::Rng;
        use std::collections::HashSet;
        let mut rng = Rng::new(13, 6);
        let mut keys = Keyspace::default();
        let name = |i: u64| -> Arc<str> { format!("k{i}").into() };
        for i in 0..100_000 {
            keys.insert(name(i), entry());
        }
        let mut next_name = 100_000;
        for _ in 0..3 {
            let start: HashSet<Arc<str>> = keys.iter().map(|(k, _)| k.clone()).collect();
            let mut ever = start.clone();
            let mut gone = HashSet::new();
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                let count = rng.range(1, 200) as usize;
                let (next, page) = scan_page(&[keys.scan_order()], cursor, count);
                assert!(page.len() <= count, "a page holds more than COUNT names");
                seen.extend(page.into_iter().cloned());
                for _ in 0..rng.below(20) {
                    if rng.percent(50) {
                        let key = name(rng.below(next_name));
                        if keys.remove(&key).is_some() {
                            gone.insert(key);
                        }
                    } else {
                        let key = name(match rng.percent(50) {
                            true => rng.below(next_name),
                            false => next_name,
                        });
                        next_name += 1;
                        ever.insert(key.clone());
                        keys.insert(key, entry());
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            let missed = start
                .iter()
                .filter(|k| !gone.contains(*k) && !seen.contains(*k));
            assert_eq!(
                missed.count(),
                0,
                "a key present for the whole scan was missed"
            );
            assert!(
                seen.iter().all(|k| ever.contains(k)),
                "a key returned never existed"
            );
            assert_eq!(keys.len(), keys.scan_order().len());
        }
    }

    /// Names at one position go together, and two orders merge into one sequence.
    #[test]
    fn pages_merge_orders_and_keep_a_position_whole() {
        let mut keys = Keyspace::default();
        for i in 0..50 {
            keys.insert(format!("k{i}").into(), entry());
        }
        let views: Vec<Arc<str>> = (0..50).map(|i| format!("view:p:{i}").into()).collect();
        keys.take_view_order(views.iter());
        let orders = [keys.scan_order(), keys.view_order().unwrap()];
        let (mut cursor, mut all) = (0, Vec::new());
        loop {
            let (next, page) = scan_page(&orders, cursor, 7);
            assert!(page.len() == 7 || next == 0);
            all.extend(page.into_iter().cloned());
            if next == 0 {
                break;
            }
            cursor = next;
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 100);
        let mut tied = ScanOrder::default();
        tied.names.insert((5, "a".into()));
        tied.names.insert((5, "b".into()));
        tied.names.insert((9, "c".into()));
        let (next, page) = scan_page(&[&tied], 0, 1);
        assert_eq!((next, page.len()), (6, 2));
        assert_eq!(scan_page(&[&tied], next, 1).0, 0);
    }
}
