//! Key expiries of a data directory (`DATA_DIR/expiry.jsonl`), so TTLs survive a restart.
//!
//! The store's log records values, not TTLs (a mutation has no expiry field), so the server
//! keeps this small side log: one line `{"seq":..,"key":..,"at":ms|null}` whenever a key's
//! expiry is set, kept or cleared, written with the request's group of writes. `seq` is the
//! position of the write it belongs to (for `EXPIRE`/`PERSIST`, the last position so far):
//! on restart a line applies to a key only if no later put of that key replaced the value
//! (a plain `SET` clears a TTL without a line). A key whose deadline passed while the server
//! was down expires at once, with its `expired` event. The log is rewritten with only the
//! live expiries at every start.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryRecord {
    pub seq: u64,
    pub key: String,
    pub at: Option<u64>,
}

/// The side log, open for appending.
pub struct ExpiryLog {
    path: PathBuf,
    file: std::fs::File,
    pending: Vec<ExpiryRecord>,
}

fn path_in(dir: &Path) -> PathBuf {
    dir.join("expiry.jsonl")
}

/// Each key's expiry as of the log, with the seq it was set at (a torn last line is skipped).
pub fn read_expiries(dir: &Path) -> Result<HashMap<String, (u64, Option<u64>)>, String> {
    let path = path_in(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut latest = HashMap::new();
    for line in text.lines() {
        if let Ok(record) = serde_json::from_str::<ExpiryRecord>(line) {
            latest.insert(record.key, (record.seq, record.at));
        }
    }
    Ok(latest)
}

impl ExpiryLog {
    /// Rewrites the log with `live` (key, seq, deadline) and opens it for appending.
    pub fn rewrite(dir: &Path, live: &[(Arc<str>, u64, u64)]) -> Result<ExpiryLog, String> {
        let path = path_in(dir);
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let mut text = String::new();
        for (key, seq, at) in live {
            let record = ExpiryRecord {
                seq: *seq,
                key: key.to_string(),
                at: Some(*at),
            };
            text.push_str(&serde_json::to_string(&record).unwrap_or_default());
            text.push('\n');
        }
        let temp = path.with_extension("jsonl.tmp");
        std::fs::write(&temp, text).map_err(fail)?;
        std::fs::rename(&temp, &path).map_err(fail)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(fail)?;
        Ok(ExpiryLog {
            path,
            file,
            pending: Vec::new(),
        })
    }

    pub fn record(&mut self, seq: u64, key: &str, at: Option<u64>) {
        self.pending.push(ExpiryRecord {
            seq,
            key: key.to_string(),
            at,
        });
    }

    /// Writes the pending lines with one `write`.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut text = String::new();
        for record in self.pending.drain(..) {
            text.push_str(&serde_json::to_string(&record).unwrap_or_default());
            text.push('\n');
        }
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            eprintln!("warning: cannot write {}: {e}", self.path.display());
        }
    }
}
