//! Conflict policies: what a sync sink does when the target holds a version it did not write.
//!
//! Every version written by a sync sink carries `(ts, origin)`: the change's event time and
//! the node it was first made on. A **conflict** is an incoming change for a key whose target
//! version came from another origin (another writer changed the target). A version from the
//! sink's own origin is always replaced: that is the source moving on, even when an
//! out-of-order event carries an older `ts`. The policy then decides who wins:
//!
//! - `last-writer-wins`: the larger `(ts, origin)` wins (origin breaks ties, so two nodes
//!   that exchange changes pick the same winner and converge);
//! - `source-wins`: the change is written;
//! - `target-wins`: the target's version stays.
//!
//! **Target-side writes.** A client that writes the target directly (a `SET` in Redis, an
//! `UPDATE` in PostgreSQL) leaves no version of its own, so the version a sink wrote would
//! still name the sink's origin and the write would be silently replaced. Every version
//! therefore also records a fingerprint of the value it wrote (Redis: the first 16 hex digits
//! of the SHA-1 of the value's text, kept in the version as `"ts:fingerprint origin"`;
//! PostgreSQL: the MD5 of the row's `jsonb` text, in the column `written`; `-` for a delete).
//! When a change arrives, a target value whose fingerprint differs from the one recorded is a
//! target change (an **edited** target), and so is a value under a key that has no version at
//! all (Redis). It is a conflict whatever the origins, logged with `"edited":true`, and the
//! policy decides with [`ConflictPolicy::overwrites_edit`]: the write carries no time, so
//! `last-writer-wins` and `source-wins` replace it, and `target-wins` keeps it (and keeps
//! counting a conflict for every later change of that key).
//!
//! Limits: an edit is seen when the next change of the key arrives, not when it is made;
//! an edit that writes back exactly the value the sink wrote is no change; a key or row that
//! kept a version written before fingerprints existed is not checked (its next write records
//! one); in PostgreSQL a row deleted outright (not made a tombstone) takes its version with it,
//! so the key looks new and is written; and in Redis a key that exists without a version
//! counts as edited, so a target filled before its sink started (or by a sink with
//! `versions = false`) keeps its values under `target-wins`.
//!
//! The decision is taken by the target itself, atomically with the write (a Lua script in
//! Redis, the `WHERE` of `ON CONFLICT DO UPDATE` in PostgreSQL), so a concurrent writer
//! cannot slip between the read and the write; [`ConflictPolicy::incoming_wins`] is the same
//! rule in Rust, for the tests and for targets without server-side logic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::plan::sinks::ConflictPolicy;
use crate::sinks::LineSink;
use crate::value::write_json_string;

impl ConflictPolicy {
    /// Whether an incoming `(ts, origin)` replaces the target's version `(ts, origin)`.
    pub fn incoming_wins(self, incoming: (u64, &str), target: (u64, &str)) -> bool {
        if incoming.1 == target.1 {
            return true;
        }
        match self {
            ConflictPolicy::LastWriterWins => incoming > target,
            ConflictPolicy::SourceWins => true,
            ConflictPolicy::TargetWins => false,
        }
    }

    /// Whether an incoming change replaces a value written to the target outside the sink
    /// (an edited target, see the module doc): one with no time to compare, so only
    /// `target-wins` keeps it.
    pub fn overwrites_edit(self) -> bool {
        self != ConflictPolicy::TargetWins
    }
}

/// One conflict as the target reported it: the key, both versions, and who won.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub key: String,
    /// The target's version before the change: value (JSON text; `None` if deleted, or if
    /// not read: Redis reads it only when a conflict log is configured), ts, origin.
    pub target_value: Option<String>,
    pub target_ts: u64,
    pub target_origin: String,
    /// The target's value was written outside the sink (after the version above, which is
    /// the last one the sink wrote; ts 0 and no origin when it never wrote the key).
    pub target_edited: bool,
    /// The incoming change: value (`None` for a delete), ts, origin.
    pub incoming_value: Option<String>,
    pub incoming_ts: u64,
    pub incoming_origin: String,
    /// Whether the incoming change was written.
    pub written: bool,
}

impl Conflict {
    /// `{"sink":..,"key":..,"winner":"incoming"|"target","target":{..},"incoming":{..}}`;
    /// the target's object ends with `"edited":true` for an edited target.
    pub fn write_json(&self, sink: &str, out: &mut String) {
        out.push_str("{\"sink\":");
        write_json_string(sink, out);
        out.push_str(",\"key\":");
        write_json_string(&self.key, out);
        out.push_str(",\"winner\":");
        out.push_str(if self.written {
            "\"incoming\""
        } else {
            "\"target\""
        });
        out.push_str(",\"target\":");
        version_json(
            self.target_value.as_deref(),
            self.target_ts,
            &self.target_origin,
            self.target_edited,
            out,
        );
        out.push_str(",\"incoming\":");
        version_json(
            self.incoming_value.as_deref(),
            self.incoming_ts,
            &self.incoming_origin,
            false,
            out,
        );
        out.push_str("}\n");
    }
}

/// `{"value":..,"ts":..,"origin":..}`, with `"edited":true` last for an edited target.
fn version_json(value: Option<&str>, ts: u64, origin: &str, edited: bool, out: &mut String) {
    out.push_str("{\"value\":");
    match value {
        // NB: the value is JSON text written by a sync sink; anything else is quoted.
        Some(v) if serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok() => out.push_str(v),
        Some(v) => write_json_string(v, out),
        None => out.push_str("null"),
    }
    out.push_str(&format!(",\"ts\":{ts},\"origin\":"));
    write_json_string(origin, out);
    if edited {
        out.push_str(",\"edited\":true");
    }
    out.push('}');
}

/// Counts conflicts and writes them to the conflict log, if there is one.
pub struct ConflictRecorder {
    pub sink: String,
    pub count: Arc<AtomicU64>,
    pub log: Option<Arc<dyn LineSink>>,
}

impl ConflictRecorder {
    pub fn record(&self, conflicts: &[Conflict]) {
        if conflicts.is_empty() {
            return;
        }
        self.count
            .fetch_add(conflicts.len() as u64, Ordering::Relaxed);
        if let Some(log) = &self.log {
            let mut text = String::new();
            for conflict in conflicts {
                conflict.write_json(&self.sink, &mut text);
            }
            log.write(&text);
            log.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_decide_as_documented() {
        use ConflictPolicy::*;
        let older = (10, "b");
        let newer = (20, "a");
        assert!(LastWriterWins.incoming_wins(newer, older));
        assert!(!LastWriterWins.incoming_wins(older, newer));
        // Ties on ts are broken by origin, the same way on both nodes.
        assert!(LastWriterWins.incoming_wins((5, "b"), (5, "a")));
        assert!(!LastWriterWins.incoming_wins((5, "a"), (5, "b")));
        assert!(SourceWins.incoming_wins(older, newer));
        assert!(!TargetWins.incoming_wins(newer, older));
        // The sink's own earlier version is always replaced.
        assert!(TargetWins.incoming_wins((1, "a"), (9, "a")));
        assert!(LastWriterWins.incoming_wins((1, "a"), (9, "a")));
        for name in ConflictPolicy::NAMES {
            assert_eq!(ConflictPolicy::parse(name).map(|p| p.name()), Some(*name));
        }
    }

    #[test]
    fn a_conflict_logs_both_versions() {
        let conflict = Conflict {
            key: "k".into(),
            target_value: Some(r#"{"n":1}"#.into()),
            target_ts: 5,
            target_origin: "b".into(),
            target_edited: false,
            incoming_value: None,
            incoming_ts: 7,
            incoming_origin: "a".into(),
            written: true,
        };
        let mut out = String::new();
        conflict.write_json("s", &mut out);
        let parsed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(parsed["target"]["value"]["n"], 1);
        assert_eq!(parsed["incoming"]["value"], serde_json::Value::Null);
        assert_eq!(parsed["winner"], "incoming");
        assert_eq!(parsed["target"]["origin"], "b");
        assert_eq!(parsed["target"].get("edited"), None);
        let edited = Conflict {
            target_edited: true,
            written: false,
            ..conflict
        };
        out.clear();
        edited.write_json("s", &mut out);
        let parsed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(parsed["target"]["edited"], true);
        assert_eq!(parsed["target"]["value"]["n"], 1);
        assert_eq!(parsed["winner"], "target");
    }

    #[test]
    fn only_target_wins_keeps_an_edited_target() {
        use ConflictPolicy::*;
        assert!(LastWriterWins.overwrites_edit());
        assert!(SourceWins.overwrites_edit());
        assert!(!TargetWins.overwrites_edit());
    }
}
