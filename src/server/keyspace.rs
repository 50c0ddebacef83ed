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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use foldhash::HashMap;

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
    deadlines: BinaryHeap<Reverse<(u64, Arc<str>)>>,
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
        self.map.insert(key, entry)
    }

    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        self.map.remove(key)
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
}
