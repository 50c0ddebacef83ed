//! `XREAD ... STREAMS __changes <id>`: the change stream as a Redis stream.
//!
//! Every applied write is a stream entry whose id is its resume token `<ts>-<seq>` (event
//! time and position in the server's history, both increasing) with the fields `kind`
//! (insert, update, delete), `key`, and `old` / `new` when the key had / has a value.
//!
//! Recent entries are kept in memory (a ring of `capacity` entries). A reader whose id is
//! older than the ring reads the data directory's log (`store::stream`, which derives kinds
//! and old values by replaying the log exactly as the live store did) up to where the ring
//! starts, so a client resumes after a server restart with the id it last saw. Without a data
//! directory, entries older than the ring are gone and the reader starts at the oldest kept.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use crate::change::EventKind;
use crate::store::stream::{ChangeStream, Start, Token};

use super::keyspace::text_of;
use super::resp::Reply;

/// A stream id: `<ts>-<seq>`, ordered by (ts, seq).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub ts: u64,
    pub seq: u64,
}

impl StreamId {
    /// Parses `ts-seq` or `ts` (seq 0). `$` is resolved by the caller.
    pub fn parse(text: &[u8]) -> Option<StreamId> {
        let text = std::str::from_utf8(text).ok()?;
        let (ts, seq) = match text.split_once('-') {
            Some((ts, seq)) => (ts.parse().ok()?, seq.parse().ok()?),
            None => (text.parse().ok()?, 0),
        };
        Some(StreamId { ts, seq })
    }

    fn write(&self, reply: &mut Reply) {
        let mut id = itoa::Buffer::new().format(self.ts).to_owned();
        id.push('-');
        id.push_str(itoa::Buffer::new().format(self.seq));
        reply.bulk(id.as_bytes());
    }
}

/// One change as a stream entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEntry {
    pub id: StreamId,
    pub kind: EventKind,
    pub key: Arc<str>,
    pub old: Option<Arc<str>>,
    pub new: Option<Arc<str>>,
}

impl ChangeEntry {
    pub fn write(&self, reply: &mut Reply) {
        reply.array(2);
        self.id.write(reply);
        let fields = 2 + usize::from(self.old.is_some()) + usize::from(self.new.is_some());
        reply.array(fields * 2);
        reply.bulk(b"kind");
        reply.bulk(self.kind.name().as_bytes());
        reply.bulk(b"key");
        reply.bulk(self.key.as_bytes());
        if let Some(old) = &self.old {
            reply.bulk(b"old");
            reply.bulk(old.as_bytes());
        }
        if let Some(new) = &self.new {
            reply.bulk(b"new");
            reply.bulk(new.as_bytes());
        }
    }
}

/// The most recent changes, in id order.
pub struct ChangeRing {
    entries: VecDeque<ChangeEntry>,
    capacity: usize,
    /// The id of the last change ever applied (survives eviction; `$` reads after it).
    pub last: StreamId,
}

impl ChangeRing {
    pub fn new(capacity: usize, last: StreamId) -> ChangeRing {
        ChangeRing {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            last,
        }
    }

    pub fn push(&mut self, entry: ChangeEntry) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.last = entry.id;
        self.entries.push_back(entry);
    }

    /// The first id the ring still holds.
    pub fn first(&self) -> Option<StreamId> {
        self.entries.front().map(|e| e.id)
    }

    /// Up to `count` entries after `after`, from memory.
    pub fn after(&self, after: StreamId, count: usize) -> Vec<ChangeEntry> {
        let start = self.entries.partition_point(|e| e.id <= after);
        self.entries.range(start..).take(count).cloned().collect()
    }
}

/// Up to `count` logged entries after `after` and before `before`, from a data directory.
pub fn read_logged(
    dir: &Path,
    after: StreamId,
    before: Option<StreamId>,
    count: usize,
) -> Result<Vec<ChangeEntry>, String> {
    let start = match after.seq {
        0 => Start::Beginning,
        seq => Start::After(Token { shard: 0, seq }),
    };
    let stream = ChangeStream::open(dir, start).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for item in stream {
        let event = item.map_err(|e| e.to_string())?.event;
        let id = StreamId {
            ts: event.ts,
            seq: event.seq,
        };
        if before.is_some_and(|b| id >= b) || out.len() >= count {
            break;
        }
        if id <= after {
            continue;
        }
        let present = |v: &crate::value::Value| (!v.is_null()).then(|| text_of(v));
        out.push(ChangeEntry {
            id,
            kind: event.kind,
            key: event.key,
            old: present(&event.old),
            new: present(&event.new),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: u64, seq: u64) -> ChangeEntry {
        ChangeEntry {
            id: StreamId { ts, seq },
            kind: EventKind::Insert,
            key: "k".into(),
            old: None,
            new: Some("v".into()),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_reads_after_an_id() {
        let mut ring = ChangeRing::new(3, StreamId::default());
        for seq in 1..=5 {
            ring.push(entry(100 + seq, seq));
        }
        assert_eq!(ring.first(), Some(StreamId { ts: 103, seq: 3 }));
        let ids: Vec<u64> = ring
            .after(StreamId { ts: 103, seq: 3 }, 10)
            .iter()
            .map(|e| e.id.seq)
            .collect();
        assert_eq!(ids, vec![4, 5]);
        assert_eq!(
            StreamId::parse(b"104-4"),
            Some(StreamId { ts: 104, seq: 4 })
        );
        assert_eq!(StreamId::parse(b"7"), Some(StreamId { ts: 7, seq: 0 }));
        assert_eq!(StreamId::parse(b"x-1"), None);
    }
}
