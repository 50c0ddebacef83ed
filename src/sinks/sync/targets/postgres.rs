//! PostgreSQL target (the `postgres` crate): a table `key text primary key, value jsonb,
//! ts bigint, origin text, deleted boolean, written text`, created if missing, and a view
//! `<table>_live` of its live rows.
//!
//! **Readers query `<table>_live`** (`key, value, ts, origin`, the rows not deleted), or the
//! table with `WHERE NOT deleted`. A delete does not remove the row: it becomes a
//! tombstone (`deleted = true`, `value` NULL) that keeps the delete's `(ts, origin)`, so
//! under last-writer-wins a late older write from another origin cannot resurrect the key,
//! as in the Redis target. With `tombstone_retention_ms` the sink purges tombstones that much
//! older than the newest change it delivered; otherwise they stay.
//!
//! A batch is one statement (atomic by itself) taking whole columns as arrays
//! (`unnest($1::text[], ...)`), so one prepared statement serves every batch size and a
//! batch of 1000 is one round trip; upserts and deletes go together, each row with its own
//! origin. The conflict policy is the `WHERE` of `ON CONFLICT DO UPDATE`, and a CTE reads
//! the rows from other origins before the write (the statement's snapshot) to report
//! conflicts with both versions.
//!
//! **Writes made outside the sink.** A client that updates a row's `value` (in the table or
//! through the view) without changing its `origin` would look like the sink's own earlier
//! version and be replaced. So the sink also writes `written`, the fingerprint of what it
//! wrote (the MD5 of the value's `jsonb` text, `-` for a tombstone), and a row whose value
//! no longer has that fingerprint is an edited target: a conflict that only target-wins keeps
//! (see `conflict` for the rule and its limits; a row deleted outright is not seen). Rows
//! written before the column existed have no fingerprint and are not checked.
//!
//! On connect, in one transaction under an advisory lock (several workers connect at once):
//! create the table if missing, add `deleted` and `written` to a table made before them, and
//! (re)create the view.

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, NoTls, Statement};

use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

/// The view of live rows is named after the table with this suffix.
pub const LIVE_SUFFIX: &str = "_live";

pub struct PostgresTarget {
    url: String,
    table: String,
    timeout: Duration,
    connection: Option<Connected>,
}

struct Connected {
    client: Client,
    /// The batch statement prepared for one policy.
    prepared: Option<(ConflictPolicy, Statement)>,
}

/// The fingerprint of what a row holds: the MD5 of its value's `jsonb` text, `-` for a
/// tombstone (see the module doc). The sink fills `written` with the same fingerprint.
const ROW_FINGERPRINT: &str =
    "CASE WHEN t.deleted OR t.value IS NULL THEN '-' ELSE md5(t.value::text) END";

/// Whether row `t` was written outside the sink: its value no longer has the fingerprint
/// the sink recorded (rows without one, written before fingerprints, are not checked).
fn edited_condition() -> String {
    format!("(t.written IS NOT NULL AND t.written <> {ROW_FINGERPRINT})")
}

/// The policy as a SQL condition on the target row `t` and the incoming `EXCLUDED` row.
fn policy_condition(policy: ConflictPolicy) -> String {
    let edited = edited_condition();
    match policy {
        ConflictPolicy::SourceWins => "true".to_string(),
        ConflictPolicy::TargetWins => format!("t.origin = EXCLUDED.origin AND NOT {edited}"),
        ConflictPolicy::LastWriterWins => format!(
            "{edited} OR t.origin = EXCLUDED.origin OR (t.ts, t.origin COLLATE \"C\") < \
             (EXCLUDED.ts, EXCLUDED.origin COLLATE \"C\")"
        ),
    }
}

/// One batch: `$1` keys, `$2` values (NULL deletes), `$3` ts, `$4` origins. Returns the
/// target rows from other origins or edited (conflicts), whether each was replaced and
/// whether it was edited.
fn batch_sql(table: &str, policy: ConflictPolicy) -> String {
    let condition = policy_condition(policy);
    let edited = edited_condition();
    format!(
        "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) \
                        AS i(key, value, ts, origin)), \
         prev AS (SELECT t.key, t.value::text AS value, t.ts, t.origin, {edited} AS edited \
                  FROM {table} t JOIN input i ON t.key = i.key \
                  WHERE t.origin <> i.origin OR {edited}), \
         up AS (INSERT INTO {table} AS t (key, value, ts, origin, deleted, written) \
                SELECT key, value::jsonb, ts, origin, value IS NULL, \
                       coalesce(md5(value::jsonb::text), '-') FROM input \
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts, \
                origin = EXCLUDED.origin, deleted = EXCLUDED.deleted, \
                written = EXCLUDED.written WHERE {condition} \
                RETURNING t.key) \
         SELECT prev.key, prev.value, prev.ts, prev.origin, \
                EXISTS (SELECT 1 FROM up WHERE up.key = prev.key), prev.edited FROM prev"
    )
}

/// The table, its `deleted` and `written` columns and the view of live rows, made idempotently.
pub fn create_sql(table: &str) -> String {
    format!(
        "BEGIN; \
         SELECT pg_advisory_xact_lock(hashtext('{table}')); \
         CREATE TABLE IF NOT EXISTS {table} (key text PRIMARY KEY, value jsonb, \
         ts bigint NOT NULL, origin text NOT NULL, deleted boolean NOT NULL DEFAULT false, \
         written text); \
         ALTER TABLE {table} ADD COLUMN IF NOT EXISTS deleted boolean NOT NULL DEFAULT false; \
         ALTER TABLE {table} ADD COLUMN IF NOT EXISTS written text; \
         CREATE OR REPLACE VIEW {table}{LIVE_SUFFIX} AS \
         SELECT key, value, ts, origin FROM {table} WHERE NOT deleted; \
         COMMIT;"
    )
}

impl PostgresTarget {
    /// `table` must be a validated identifier (`name` or `schema.name`, see `dataflow_file`).
    pub fn new(url: &str, table: &str, timeout: Duration) -> PostgresTarget {
        PostgresTarget {
            url: url.to_string(),
            table: table.to_string(),
            timeout,
            connection: None,
        }
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> TargetError {
        TargetError(format!("{}: {what}: {e}", self.describe()))
    }

    fn connect(&self) -> Result<Connected, TargetError> {
        let view = self.table.rsplit('.').next().unwrap_or(&self.table).len() + LIVE_SUFFIX.len();
        if view > 63 {
            return Err(self.error(
                "table name too long",
                format!("its view needs `{LIVE_SUFFIX}` within PostgreSQL's 63 characters"),
            ));
        }
        let mut config =
            postgres::Config::from_str(&self.url).map_err(|e| self.error("bad url", e))?;
        config.connect_timeout(self.timeout);
        let mut client = config
            .connect(NoTls)
            .map_err(|e| self.error("cannot connect", e))?;
        client
            .batch_execute(&create_sql(&self.table))
            .map_err(|e| self.error("cannot create the table and its view", e))?;
        Ok(Connected {
            client,
            prepared: None,
        })
    }

    fn connection(&mut self) -> Result<&mut Connected, TargetError> {
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| TargetError("no connection".into()))
    }

    fn run_batch(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, postgres::Error> {
        let Some(connected) = self.connection.as_mut() else {
            return Ok(Vec::new());
        };
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if connected.prepared.as_ref().map(|p| p.0) != Some(policy) {
            let statement = connected.client.prepare(&batch_sql(&self.table, policy))?;
            connected.prepared = Some((policy, statement));
        }
        let Some((_, statement)) = connected.prepared.clone() else {
            return Ok(Vec::new());
        };
        let keys: Vec<&str> = batch.iter().map(|op| op.key.as_str()).collect();
        let values: Vec<Option<&str>> = batch.iter().map(|op| op.value.as_deref()).collect();
        let stamps: Vec<i64> = batch
            .iter()
            .map(|op| i64::try_from(op.ts).unwrap_or(i64::MAX))
            .collect();
        let origins: Vec<&str> = batch.iter().map(|op| &*op.origin).collect();
        let rows = connected
            .client
            .query(&statement, &[&keys, &values, &stamps, &origins])?;
        let by_key: std::collections::HashMap<&str, &SyncOp> =
            batch.iter().map(|op| (op.key.as_str(), op)).collect();
        let mut conflicts = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get(0)?;
            let Some(op) = by_key.get(key.as_str()) else {
                continue;
            };
            let target_ts: i64 = row.try_get(2)?;
            conflicts.push(Conflict {
                target_value: row.try_get(1)?,
                target_ts: target_ts.max(0) as u64,
                target_origin: row.try_get(3)?,
                target_edited: row.try_get(5)?,
                incoming_value: op.value.clone(),
                incoming_ts: op.ts,
                incoming_origin: op.origin.to_string(),
                written: row.try_get(4)?,
                key,
            });
        }
        Ok(conflicts)
    }
}

impl Target for PostgresTarget {
    fn describe(&self) -> String {
        crate::plan::sinks::TargetConfig::Postgres {
            url: self.url.clone(),
            table: self.table.clone(),
        }
        .describe()
    }

    fn apply(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, TargetError> {
        self.connection()?;
        self.run_batch(batch, policy).map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })
    }

    fn check(&mut self) -> Result<(), TargetError> {
        let connected = self.connection()?;
        let result = connected.client.simple_query("SELECT 1");
        result.map(|_| ()).map_err(|e| {
            self.connection = None;
            self.error("SELECT 1 failed", e)
        })
    }

    fn purge_tombstones(&mut self, before: u64) -> Result<u64, TargetError> {
        let sql = format!("DELETE FROM {} WHERE deleted AND ts < $1", self.table);
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let connected = self.connection()?;
        let result = connected.client.execute(sql.as_str(), &[&before]);
        result.map_err(|e| {
            self.connection = None;
            self.error("purging tombstones failed", e)
        })
    }
}
