//! Another kvflow node as a sync target, over its Redis-protocol port.
//!
//! Each change goes as `KVFLOW.APPLY SET key value ts origin` or `KVFLOW.APPLY DEL key ts
//! origin`, pipelined per batch. The receiving node keeps the change's origin, so its own
//! sync never sends the change back (which stops loops between two nodes that sync each
//! other), and with `--node-id` applies it only when newer than what the key holds, or of
//! the same version (last-writer-wins on `(ts, origin)`; an origin's two changes in one
//! millisecond share a version), so both converge after concurrent writes. The conflict is
//! resolved there; this sink itself applies source-wins (checked when the file is loaded).
//!
//! A value goes as the text a client would `SET` on the node, not as JSON text: a string
//! value `abc` (JSON `"abc"`) goes as `abc`, anything else as its JSON text. A serve node
//! reads a value from the text it was set to (`abc` a string, `42` a number, `042` a
//! string), and the receiving node reads the same text the same way, so `GET` on either
//! node returns what was `SET` on one. (Sending the JSON text stored `"abc"`, quotes
//! included.)

use std::borrow::Cow;
use std::time::Duration;

use redis::Connection;

use super::redis::open_connection;
use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

pub struct KvflowTarget {
    url: String,
    prefix: String,
    timeout: Duration,
    connection: Option<Connection>,
}

impl KvflowTarget {
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> KvflowTarget {
        KvflowTarget {
            url: url.to_string(),
            prefix: prefix.to_string(),
            timeout,
            connection: None,
        }
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> TargetError {
        TargetError(format!("{}: {what}: {e}", self.describe()))
    }

    fn connection(&mut self) -> Result<&mut Connection, TargetError> {
        if self.connection.is_none() {
            let connection = open_connection(&self.url, self.timeout)
                .map_err(|e| self.error("cannot connect", e))?;
            self.connection = Some(connection);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| TargetError("no connection".into()))
    }
}

/// The text to `SET` on a kvflow node for a value's JSON text: a JSON string's contents,
/// else the JSON text itself.
pub fn node_text(json: &str) -> Cow<'_, str> {
    if json.starts_with('"')
        && let Ok(text) = serde_json::from_str::<String>(json)
    {
        return Cow::Owned(text);
    }
    Cow::Borrowed(json)
}

/// The batch as `KVFLOW.APPLY` commands.
fn apply_pipeline(prefix: &str, batch: &[SyncOp]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for op in batch {
        let key = format!("{prefix}{}", op.key);
        let command = pipe.cmd("KVFLOW.APPLY");
        match &op.value {
            Some(value) => command.arg("SET").arg(key).arg(node_text(value).as_ref()),
            None => command.arg("DEL").arg(key),
        };
        command.arg(op.ts).arg(&*op.origin).ignore();
    }
    pipe
}

impl Target for KvflowTarget {
    fn describe(&self) -> String {
        crate::plan::sinks::TargetConfig::Kvflow {
            url: self.url.clone(),
            prefix: self.prefix.clone(),
        }
        .describe()
    }

    fn apply(
        &mut self,
        batch: &[SyncOp],
        _policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, TargetError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let pipe = apply_pipeline(&self.prefix, batch);
        let result: Result<(), _> = pipe.query(self.connection()?);
        result.map(|()| Vec::new()).map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })
    }

    fn check(&mut self) -> Result<(), TargetError> {
        let pong: Result<String, _> = redis::cmd("PING").query(self.connection()?);
        pong.map(|_| ()).map_err(|e| {
            self.connection = None;
            self.error("PING failed", e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_go_as_their_text_and_others_as_json() {
        assert_eq!(node_text(r#""abc""#), "abc");
        assert_eq!(node_text(r#""say \"hi\"""#), r#"say "hi""#);
        assert_eq!(node_text(r#""042""#), "042");
        assert_eq!(node_text("42"), "42");
        assert_eq!(node_text(r#"{"a":"b"}"#), r#"{"a":"b"}"#);
        // Not JSON (never produced by a sink, but never lost either): as it is.
        assert_eq!(node_text(r#""open"#), r#""open"#);
    }
}
