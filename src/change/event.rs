//! `Mutation`, `ChangeEvent` and `EventKind`, and their row forms for the two views.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::time::time_value;
use crate::schema::pos;
use crate::value::{Row, Value};

/// What a mutation asks for. `insert`/`update` are spelled `put`: the store derives the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    Put,
    Delete,
}

/// A client's request to change one key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mutation {
    pub key: Arc<str>,
    pub op: Op,
    pub value: Value,
    /// Event time in ms; `None` takes the ingest clock's time.
    pub ts: Option<u64>,
    /// The node the change was first made on (`None`: this node). Sync sinks never send a
    /// change back to its origin, which is what stops loops between two syncing nodes.
    #[serde(default)]
    pub origin: Option<Arc<str>>,
}

impl Mutation {
    pub fn put(key: impl Into<Arc<str>>, value: Value, ts: u64) -> Mutation {
        Mutation {
            key: key.into(),
            op: Op::Put,
            value,
            ts: Some(ts),
            origin: None,
        }
    }

    pub fn delete(key: impl Into<Arc<str>>, ts: u64) -> Mutation {
        Mutation {
            key: key.into(),
            op: Op::Delete,
            value: Value::Null,
            ts: Some(ts),
            origin: None,
        }
    }

    /// The same mutation, marked as first made on node `origin`.
    pub fn with_origin(mut self, origin: impl Into<Arc<str>>) -> Mutation {
        self.origin = Some(origin.into());
        self
    }
}

/// The kind of a change, derived from the shard's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    Insert,
    Update,
    Delete,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Insert => "insert",
            EventKind::Update => "update",
            EventKind::Delete => "delete",
        }
    }

    /// The kind's name as a string value shared within the thread (no allocation per event).
    ///
    /// NB: one set of names per thread, not per process: every event row clones its kind's
    /// name and drops it again, and with one process-wide string the two workers of a run
    /// took its reference count's cache line from each other at every event. In a `perf`
    /// profile of Nexmark q2 on two workers that took 57% of building the events rows, and the
    /// two workers used 37% more CPU than one for the same events.
    pub fn name_value(self) -> Value {
        thread_local! {
            static NAMES: [Value; 3] = EventKind::ALL.map(|kind| Value::from(kind.name()));
        }
        NAMES.with(|names| names[self as usize].clone())
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        match name {
            "insert" => Some(EventKind::Insert),
            "update" => Some(EventKind::Update),
            "delete" => Some(EventKind::Delete),
            _ => None,
        }
    }

    pub const ALL: [EventKind; 3] = [EventKind::Insert, EventKind::Update, EventKind::Delete];
}

/// One applied change. `seq` is the mutation's position in its source (see `store::shard`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub seq: u64,
    pub ts: u64,
    pub kind: EventKind,
    pub key: Arc<str>,
    pub old: Value,
    pub new: Value,
    /// The node the mutation was first made on (`None`: this node); see [`Mutation::origin`].
    #[serde(default)]
    pub origin: Option<Arc<str>>,
}

impl ChangeEvent {
    /// The row of the events view: `key, ts, kind, seq, value, old` (see `Schema::events`).
    pub fn to_event_row(&self) -> Row {
        self.to_event_row_with(u64::MAX)
    }

    /// [`Self::to_event_row`] with only the fields whose bit is set in `keep` (bit `i` for
    /// field `i`) filled in; the others are NULL, and nothing is cloned for them.
    pub fn to_event_row_with(&self, keep: u64) -> Row {
        self.event_row_in(keep, Vec::new())
    }

    /// How many fields a row of the events view has.
    pub fn width(&self) -> usize {
        EVENT_FIELDS
    }

    /// [`Self::to_event_row_with`] in the buffer `values` (emptied first), so a caller that
    /// recycles rows allocates none.
    pub fn event_row_in(&self, keep: u64, mut values: Vec<Value>) -> Row {
        values.clear();
        // NB: NULLs first (a store of the tag each), then only the kept fields written over
        // them. A value chosen between NULL and a field and then pushed was put together on
        // the stack and copied over, and the copy's load waited on the store of the value's
        // tag, for every field: 8% of `window_counts.toml`, most of it that wait.
        values.extend(std::iter::repeat_n((), EVENT_FIELDS).map(|()| Value::Null));
        if keeps(keep, pos::KEY) {
            values[pos::KEY] = Value::Str(self.key.clone());
        }
        if keeps(keep, pos::TS) {
            values[pos::TS] = time_value(self.ts);
        }
        if keeps(keep, pos::EVENT_KIND) {
            values[pos::EVENT_KIND] = self.kind.name_value();
        }
        if keeps(keep, pos::EVENT_SEQ) {
            values[pos::EVENT_SEQ] = Value::Int(self.seq as i64);
        }
        if keeps(keep, pos::EVENT_VALUE) {
            values[pos::EVENT_VALUE] = self.new.clone();
        }
        if keeps(keep, pos::EVENT_OLD) {
            values[pos::EVENT_OLD] = self.old.clone();
        }
        Row(values)
    }
}

/// The fields of an events row: `key, ts, kind, seq, value, old`.
const EVENT_FIELDS: usize = 6;

/// The row of the table view for a live key: `key, ts, seq, value` (see `Schema::table`).
pub fn table_row(key: &Arc<str>, ts: u64, seq: u64, value: &Value) -> Row {
    table_row_with(key, ts, seq, value, u64::MAX)
}

/// [`table_row`] with only the fields whose bit is set in `keep` filled in; the others NULL.
pub fn table_row_with(key: &Arc<str>, ts: u64, seq: u64, value: &Value, keep: u64) -> Row {
    Row(vec![
        field(keep, pos::KEY, || Value::Str(key.clone())),
        field(keep, pos::TS, || time_value(ts)),
        field(keep, pos::TABLE_SEQ, || Value::Int(seq as i64)),
        field(keep, pos::TABLE_VALUE, || value.clone()),
    ])
}

/// Field `i` of a row: `value()` if the row keeps it, NULL otherwise. NB: the table view's
/// rows keep most of their four fields, so they are built whole rather than NULLs first (as
/// in [`ChangeEvent::event_row_in`]): that took 1.6% more instructions on the table join and
/// measured no faster.
#[inline(always)]
fn field(keep: u64, i: usize, value: impl FnOnce() -> Value) -> Value {
    match keeps(keep, i) {
        true => value(),
        false => Value::Null,
    }
}

/// Whether bit `field` is set in `keep`: the row keeps that field.
fn keeps(keep: u64, field: usize) -> bool {
    keep >> field & 1 == 1
}
