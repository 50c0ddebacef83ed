//! Another kvflow node as a sync target, over its Redis-protocol port.
//!
//! It speaks only what every Redis-protocol server answers: `CLIENT SETNAME` once per
//! connection, naming the origin of the changes that follow (`kvflow-origin:<node>`, which a
//! kvflow server attaches to the mutations of that connection), then pipelined `SET key value`
//! and `DEL key`. The receiving node resolves conflicts and never sends a change back to the
//! node it came from, which stops loops between two nodes that sync each other; this sink
//! itself applies source-wins (checked when the file is loaded).

use std::time::Duration;

use redis::Connection;

use super::redis::{open_connection, plain_pipeline};
use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

/// The connection name that tells a kvflow server where the changes come from.
pub fn origin_client_name(origin: &str) -> String {
    format!("kvflow-origin:{origin}")
}

pub struct KvflowTarget {
    url: String,
    prefix: String,
    timeout: Duration,
    /// The connection and the origin it announced.
    connection: Option<(Connection, String)>,
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

    fn connect(&self, origin: &str) -> Result<Connection, TargetError> {
        let mut connection = open_connection(&self.url, self.timeout)
            .map_err(|e| self.error("cannot connect", e))?;
        let named: Result<(), _> = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(origin_client_name(origin))
            .query(&mut connection);
        named.map_err(|e| self.error("CLIENT SETNAME failed", e))?;
        Ok(connection)
    }

    fn connection(&mut self, origin: &str) -> Result<&mut Connection, TargetError> {
        if self.connection.as_ref().is_none_or(|(_, o)| o != origin) {
            self.connection = Some((self.connect(origin)?, origin.to_string()));
        }
        self.connection
            .as_mut()
            .map(|(c, _)| c)
            .ok_or_else(|| TargetError("no connection".into()))
    }
}

impl Target for KvflowTarget {
    fn describe(&self) -> String {
        crate::sinks::sync::config::TargetConfig::Kvflow {
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
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let pipe = plain_pipeline(&self.prefix, batch);
        let origin = first.origin.to_string();
        let connection = self.connection(&origin)?;
        let result: Result<(), _> = pipe.query(connection);
        result.map(|()| Vec::new()).map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })
    }

    fn check(&mut self) -> Result<(), TargetError> {
        let origin = match &self.connection {
            Some((_, origin)) => origin.clone(),
            None => "unknown".to_string(),
        };
        let connection = self.connection(&origin)?;
        let pong: Result<String, _> = redis::cmd("PING").query(connection);
        pong.map(|_| ()).map_err(|e| {
            self.connection = None;
            self.error("PING failed", e)
        })
    }
}
