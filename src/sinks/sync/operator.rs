//! The timely side of a sync sink: per completed time, a pipeline's updates (or the store's
//! changes) become at most one [`SyncOp`] per key, queued for delivery.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use regex::Regex;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

use super::{SyncOp, SyncStats, last_per_key};
use crate::change::EventKind;
use crate::operators::by_time::AtCompletedTimes;
use crate::operators::fallible::Rows;
use crate::sinks::delivery::queue::QueueSender;
use crate::sinks::format::consolidate;
use crate::sinks::resumed::Delivered;
use crate::store::{Change, stable_hash};
use crate::value::{Row, Value};

/// How a pipeline's rows become keyed changes.
#[derive(Clone, Debug)]
pub struct RowKeys {
    pub names: Vec<String>,
    pub key_fields: Vec<usize>,
    pub ts_field: Option<usize>,
    pub origin: Arc<str>,
}

impl RowKeys {
    /// The target key: the key fields' values (strings as they are, others as JSON)
    /// joined by `:`.
    pub fn key_of(&self, row: &Row) -> String {
        let mut key = String::new();
        for (i, field) in self.key_fields.iter().enumerate() {
            if i > 0 {
                key.push(':');
            }
            match row.get(*field) {
                Value::Str(s) => key.push_str(s),
                other => other.write_json(&mut key),
            }
        }
        key
    }

    /// The changes at `time`: for each key, its row if one remains, else a delete.
    pub fn ops(&self, time: u64, updates: &mut Vec<(Row, i64)>) -> Vec<SyncOp> {
        consolidate(updates);
        let mut by_key: BTreeMap<String, Option<&Row>> = BTreeMap::new();
        for (row, diff) in updates.iter() {
            let slot = by_key.entry(self.key_of(row)).or_insert(None);
            if *diff > 0 {
                *slot = Some(row);
            }
        }
        by_key
            .into_iter()
            .map(|(key, row)| {
                let ts = row
                    .and_then(|r| self.ts_field.and_then(|f| r.get(f).as_i64()))
                    .map_or(time, |ts| ts.max(0) as u64);
                let value = row.map(|r| {
                    let mut text = String::new();
                    r.write_json_object(&self.names, &mut text);
                    text
                });
                SyncOp {
                    key,
                    value,
                    ts,
                    origin: self.origin.clone(),
                }
            })
            .collect()
    }
}

/// Which of the store's changes a table sync replicates.
#[derive(Clone, Debug)]
pub struct TableFilter {
    pub keys: Vec<Regex>,
    /// Changes from this node are not sent (it is the target).
    pub skip_origin: Option<Arc<str>>,
    pub origin: Arc<str>,
}

impl TableFilter {
    /// The changes of one time as the last change per key (in `seq` order), without those
    /// that came from the target node.
    pub fn ops(&self, mut changes: Vec<Change>, stats: &SyncStats) -> Vec<SyncOp> {
        changes.sort_by_key(|c| c.event.seq);
        let mut ops = Vec::with_capacity(changes.len());
        for change in changes {
            let event = change.event;
            if !self.keys.is_empty() && !self.keys.iter().any(|r| r.is_match(&event.key)) {
                continue;
            }
            ops.push(SyncOp {
                key: event.key.to_string(),
                value: (event.kind != EventKind::Delete).then(|| event.new.to_json_string()),
                ts: event.ts,
                origin: event.origin.unwrap_or_else(|| self.origin.clone()),
            });
        }
        // NB: the echo check comes after picking each key's last change: an earlier local
        // change must not be sent when the target's own change replaced it.
        let mut ops = last_per_key(ops);
        if let Some(skip) = &self.skip_origin {
            let before = ops.len();
            ops.retain(|op| op.origin != *skip);
            let skipped = (before - ops.len()) as u64;
            stats.skipped_echoes.fetch_add(skipped, Ordering::Relaxed);
        }
        ops
    }
}

/// Queues a time's changes unless a resumed durable run delivered that time before.
pub struct Delivery {
    pub queue: QueueSender<SyncOp>,
    pub delivered: Delivered,
}

impl Delivery {
    fn send(&self, time: u64, ops: Vec<SyncOp>) {
        let delivered = self.delivered.covers(Some(time));
        if !delivered && !ops.is_empty() && !self.queue.send(ops) {
            tracing::error!("a sync delivery thread stopped; changes of time {time} not sent");
        }
    }
}

/// Syncs a pipeline's changelog (rows routed by key, so a key's changes stay in order).
pub fn sync_rows<'scope>(
    rows: Rows<'scope>,
    keys: RowKeys,
    delivery: Delivery,
) -> Stream<'scope, u64, Vec<()>> {
    let fields = keys.key_fields.clone();
    let route = Exchange::new(move |(row, _, _): &(Row, u64, i64)| {
        let key: Vec<&Value> = fields.iter().map(|f| row.get(*f)).collect();
        stable_hash(&key)
    });
    rows.inner.at_completed_times(
        route,
        "SyncRows",
        |(row, time, diff), _| (time, (row, diff)),
        move |time, updates: &mut Vec<(Row, i64)>| delivery.send(time, keys.ops(time, updates)),
        || {},
    )
}

/// Syncs the store's live table (each shard's changes, already partitioned by key).
pub fn sync_table<'scope>(
    changes: Stream<'scope, u64, Vec<Change>>,
    filter: TableFilter,
    delivery: Delivery,
    stats: Arc<SyncStats>,
) -> Stream<'scope, u64, Vec<()>> {
    changes.at_completed_times(
        Pipeline,
        "SyncTable",
        |change, batch_time| (batch_time, change),
        move |time, changes: &mut Vec<Change>| {
            delivery.send(time, filter.ops(std::mem::take(changes), &stats))
        },
        || {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, total: i64) -> Row {
        Row(vec![Value::from(user), Value::Int(total)])
    }

    #[test]
    fn a_time_becomes_one_change_per_key() {
        let keys = RowKeys {
            names: vec!["user".into(), "total".into()],
            key_fields: vec![0],
            ts_field: None,
            origin: "a".into(),
        };
        let mut updates = vec![
            (row("u1", 5), -1),
            (row("u1", 9), 1),
            (row("u2", 3), -1),
            (row("u3", 1), 1),
            (row("u3", 1), -1),
        ];
        let ops = keys.ops(7, &mut updates);
        let summary: Vec<(String, Option<String>, u64)> =
            ops.into_iter().map(|o| (o.key, o.value, o.ts)).collect();
        assert_eq!(
            summary,
            vec![
                ("u1".into(), Some(r#"{"user":"u1","total":9}"#.into()), 7),
                ("u2".into(), None, 7),
            ]
        );
    }
}
