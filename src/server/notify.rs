//! Pub/sub and keyspace notifications.
//!
//! A subscriber is a connection's [`Outbox`]: messages for it are encoded into its push
//! buffer (by whichever thread publishes) and its event loop is woken to write them out. A
//! subscriber that does not read is bounded by `limit`: past it the outbox is marked
//! killed, its connection is closed and the buffer freed, as Redis does with its
//! `client-output-buffer-limit pubsub`.
//!
//! Keyspace notifications use Redis's channels and event names: every write publishes
//! `<event>` on `__keyspace@0__:<key>` and `<key>` on `__keyevent@0__:<event>`. They are
//! always on (Redis needs `notify-keyspace-events`); with no subscriber they cost a check.
//! The events are a [`KeyspaceEvent`], named as Redis names them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use foldhash::HashMap;

use super::glob::glob_match;
use super::resp::Reply;

/// What happened to a key, as keyspace notifications name it (Redis's event names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyspaceEvent {
    /// `SET`, `MSET`, `SETEX` and the like wrote the key.
    Set,
    /// `DEL`, `UNLINK`, or an expiry time in the past, removed it.
    Del,
    /// Its expiry passed and it was removed.
    Expired,
    /// An expiry was set on it.
    Expire,
    /// Its expiry was removed.
    Persist,
    Append,
    /// `INCR` and `INCRBY`.
    IncrBy,
    /// `DECR` and `DECRBY`.
    DecrBy,
}

impl KeyspaceEvent {
    /// The name published on the keyspace and keyevent channels.
    pub fn name(self) -> &'static str {
        match self {
            KeyspaceEvent::Set => "set",
            KeyspaceEvent::Del => "del",
            KeyspaceEvent::Expired => "expired",
            KeyspaceEvent::Expire => "expire",
            KeyspaceEvent::Persist => "persist",
            KeyspaceEvent::Append => "append",
            KeyspaceEvent::IncrBy => "incrby",
            KeyspaceEvent::DecrBy => "decrby",
        }
    }
}

/// The shared, thread-safe side of a connection: where published messages go.
pub struct Outbox {
    pub id: u64,
    buf: Mutex<Vec<u8>>,
    pub resp3: AtomicBool,
    pub killed: AtomicBool,
    limit: usize,
    wake: Box<dyn Fn() + Send + Sync>,
}

impl Outbox {
    pub fn new(id: u64, limit: usize, wake: Box<dyn Fn() + Send + Sync>) -> Outbox {
        Outbox {
            id,
            buf: Mutex::new(Vec::new()),
            resp3: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            limit,
            wake,
        }
    }

    /// Encodes a message with `write` and wakes the connection's loop.
    pub fn send(&self, write: impl FnOnce(&mut Reply)) {
        if self.killed.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut buf) = self.buf.lock() else { return };
        let was_empty = buf.is_empty();
        write(&mut Reply {
            out: &mut buf,
            resp3: self.resp3.load(Ordering::Relaxed),
        });
        if buf.len() > self.limit {
            buf.clear();
            buf.shrink_to_fit();
            self.killed.store(true, Ordering::Relaxed);
        }
        drop(buf);
        if was_empty {
            (self.wake)();
        }
    }

    /// Moves pending messages to `out`.
    pub fn take_into(&self, out: &mut Vec<u8>) {
        if let Ok(mut buf) = self.buf.lock() {
            out.append(&mut buf);
        }
    }
}

/// Who listens to which channel or pattern.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Vec<u8>, Vec<Arc<Outbox>>>,
    patterns: Vec<(Vec<u8>, Arc<Outbox>)>,
}

impl PubSub {
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty()
    }

    pub fn subscribe(&mut self, channel: &[u8], outbox: &Arc<Outbox>) {
        let list = self.channels.entry(channel.to_vec()).or_default();
        if !list.iter().any(|o| o.id == outbox.id) {
            list.push(outbox.clone());
        }
    }

    pub fn unsubscribe(&mut self, channel: &[u8], id: u64) {
        if let Some(list) = self.channels.get_mut(channel) {
            list.retain(|o| o.id != id);
            if list.is_empty() {
                self.channels.remove(channel);
            }
        }
    }

    pub fn psubscribe(&mut self, pattern: &[u8], outbox: &Arc<Outbox>) {
        if !self
            .patterns
            .iter()
            .any(|(p, o)| p == pattern && o.id == outbox.id)
        {
            self.patterns.push((pattern.to_vec(), outbox.clone()));
        }
    }

    pub fn punsubscribe(&mut self, pattern: &[u8], id: u64) {
        self.patterns.retain(|(p, o)| !(p == pattern && o.id == id));
    }

    /// Drops every subscription of a closed connection.
    pub fn remove_connection(&mut self, id: u64) {
        self.channels.retain(|_, list| {
            list.retain(|o| o.id != id);
            !list.is_empty()
        });
        self.patterns.retain(|(_, o)| o.id != id);
    }

    /// Delivers `message` on `channel`; returns how many subscribers received it.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = 0;
        if let Some(list) = self.channels.get(channel) {
            for outbox in list {
                outbox.send(|r| {
                    r.push(3);
                    r.bulk(b"message");
                    r.bulk(channel);
                    r.bulk(message);
                });
                receivers += 1;
            }
        }
        for (pattern, outbox) in &self.patterns {
            if glob_match(pattern, channel) {
                outbox.send(|r| {
                    r.push(4);
                    r.bulk(b"pmessage");
                    r.bulk(pattern);
                    r.bulk(channel);
                    r.bulk(message);
                });
                receivers += 1;
            }
        }
        receivers
    }

    /// Publishes the keyspace and keyevent notifications of one write.
    pub fn notify_keyspace(&self, event: KeyspaceEvent, key: &str) {
        if self.is_empty() {
            return;
        }
        let event = event.name();
        let mut channel = Vec::with_capacity(20 + key.len().max(event.len()));
        channel.extend_from_slice(b"__keyspace@0__:");
        channel.extend_from_slice(key.as_bytes());
        self.publish(&channel, event.as_bytes());
        channel.clear();
        channel.extend_from_slice(b"__keyevent@0__:");
        channel.extend_from_slice(event.as_bytes());
        self.publish(&channel, key.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_events_keep_redis_names() {
        use KeyspaceEvent::*;
        let names: Vec<&str> = [Set, Del, Expired, Expire, Persist, Append, IncrBy, DecrBy]
            .iter()
            .map(|e| e.name())
            .collect();
        let expected = [
            "set", "del", "expired", "expire", "persist", "append", "incrby", "decrby",
        ];
        assert_eq!(names, expected);
    }
}
