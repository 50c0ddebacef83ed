//! Materialized views: a pipeline's output kept as keys, so `GET` reads a live aggregate.
//!
//! `--view orders_per_user` keeps each row of the pipeline `orders_per_user` under
//! `view:orders_per_user:<group>` — the row's key fields (window and group fields) joined by
//! `:` — holding the row as JSON. An upsert replaces the key, a delete removes it. View keys
//! are read-only for clients and are not store mutations (they are derived: a restart
//! rebuilds them by replaying the log, which is why they also take the output a resumed run
//! had already delivered).
//!
//! [`ServeOutputs`] also flushes the file outputs after every batch, so a row is in its file
//! as soon as its time closes (a server's outputs are read while it runs).

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use crate::plan::Plan;
use crate::sinks::{LineSink, OutputFactory, OutputKind, RowFormat};

use super::Server;

/// Which pipeline is materialized under which prefix.
#[derive(Clone, Debug)]
pub struct ViewDef {
    pub pipeline: String,
    pub prefix: String,
    /// The names of the fields that identify a row.
    pub key_fields: Vec<String>,
}

impl ViewDef {
    /// The view of `pipeline` in `plan` under `view:<pipeline>:`.
    pub fn for_pipeline(plan: &Plan, pipeline: &str) -> Result<ViewDef, String> {
        let def = plan
            .pipeline(pipeline)
            .ok_or_else(|| format!("--view {pipeline}: no pipeline of that name"))?;
        let format = RowFormat::for_pipeline(def);
        let key_fields = format.names()[..format.identity_len()].to_vec();
        Ok(ViewDef {
            pipeline: pipeline.to_string(),
            prefix: format!("view:{pipeline}:"),
            key_fields,
        })
    }
}

/// Applies output lines of a pipeline to the server's views.
struct ViewSink {
    def: ViewDef,
    server: Weak<Server>,
}

impl ViewSink {
    fn apply(&self, lines: &str) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let mut updates = Vec::new();
        for line in lines.lines() {
            let Ok(mut row) = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(line)
            else {
                continue;
            };
            let op = row.remove("op");
            let mut key = self.def.prefix.clone();
            for (i, field) in self.def.key_fields.iter().enumerate() {
                if i > 0 {
                    key.push(':');
                }
                match row.get(field) {
                    Some(serde_json::Value::String(s)) => key.push_str(s),
                    Some(other) => key.push_str(&other.to_string()),
                    None => {}
                }
            }
            let deleted = op.as_ref().and_then(|o| o.as_str()) == Some("delete");
            let text = (!deleted).then(|| serde_json::to_string(&row).unwrap_or_default());
            updates.push((key, text));
        }
        let mut db = server.lock();
        for (key, text) in updates {
            match text {
                Some(text) => db.views.insert(key.into(), text.into()),
                None => db.views.remove(key.as_str()),
            };
        }
    }
}

impl LineSink for ViewSink {
    fn write(&self, lines: &str) {
        self.apply(lines);
    }

    fn write_delivered(&self, _time: Option<u64>, lines: &str) {
        self.apply(lines);
    }
}

/// A file output flushed after every write.
struct Flushed(Arc<dyn LineSink>);

impl LineSink for Flushed {
    fn write(&self, lines: &str) {
        if !lines.is_empty() {
            self.0.write(lines);
            self.0.flush();
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Two sinks fed the same lines.
struct Both(Arc<dyn LineSink>, Arc<ViewSink>);

impl LineSink for Both {
    fn write(&self, lines: &str) {
        self.0.write(lines);
        self.1.write(lines);
    }

    fn write_delivered(&self, time: Option<u64>, lines: &str) {
        self.0.write_delivered(time, lines);
        self.1.write_delivered(time, lines);
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// The server's outputs: the run's files (flushed per batch) and the views, which write
/// into `server`'s keyspace.
pub struct ServeOutputs {
    pub inner: Arc<dyn OutputFactory>,
    pub views: Vec<ViewDef>,
    pub server: Weak<Server>,
}

impl OutputFactory for ServeOutputs {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        let file: Arc<dyn LineSink> = Arc::new(Flushed(self.inner.open(pipeline, kind)));
        let view = self.views.iter().find(|v| v.pipeline == pipeline);
        match (kind, view) {
            (OutputKind::Rows, Some(def)) => Arc::new(Both(
                file,
                Arc::new(ViewSink {
                    def: def.clone(),
                    server: self.server.clone(),
                }),
            )),
            _ => file,
        }
    }

    fn finish(&self) {
        self.inner.finish();
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    fn resume(&self, lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        self.inner.resume(lengths)
    }

    fn checkpoint(&self) -> Result<BTreeMap<String, u64>, String> {
        self.inner.checkpoint()
    }
}
