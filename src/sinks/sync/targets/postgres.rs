//! PostgreSQL target (the `postgres` crate): a table `key text primary key, value jsonb,
//! ts bigint, origin text`, created if missing.
//!
//! A batch is one statement, or a transaction of two when it has both upserts and deletes,
//! each statement taking whole columns as arrays (`unnest($1::text[], ...)`), so one prepared
//! statement serves every batch size and a batch of 1000 is one round trip. The conflict
//! policy is the `WHERE` of `ON CONFLICT DO UPDATE` (and of the `DELETE`), and a CTE reads
//! the rows from other origins before the write (the statement's snapshot) to report
//! conflicts with both versions. A delete removes the row, so its version goes with it.

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, NoTls, Statement};

use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

pub struct PostgresTarget {
    url: String,
    table: String,
    timeout: Duration,
    connection: Option<Connected>,
}

struct Connected {
    client: Client,
    /// Statements prepared for one policy.
    prepared: Option<(ConflictPolicy, Statement, Statement)>,
}

/// The policy as a SQL condition on the target row `t` and the incoming `ts`/`origin`.
fn policy_condition(policy: ConflictPolicy, ts: &str, origin: &str) -> String {
    match policy {
        ConflictPolicy::SourceWins => "true".to_string(),
        ConflictPolicy::TargetWins => format!("t.origin = {origin}"),
        ConflictPolicy::LastWriterWins => format!(
            "t.origin = {origin} OR (t.ts, t.origin COLLATE \"C\") < ({ts}, {origin} COLLATE \"C\")"
        ),
    }
}

fn upsert_sql(table: &str, policy: ConflictPolicy) -> String {
    let condition = policy_condition(policy, "EXCLUDED.ts", "EXCLUDED.origin");
    format!(
        "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) AS i(key, value, ts)), \
         prev AS (SELECT t.key, t.value::text AS value, t.ts, t.origin FROM {table} t \
                  JOIN input i ON t.key = i.key WHERE t.origin <> $4), \
         up AS (INSERT INTO {table} AS t (key, value, ts, origin) \
                SELECT key, value::jsonb, ts, $4 FROM input \
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts, \
                origin = EXCLUDED.origin WHERE {condition} RETURNING t.key) \
         SELECT prev.key, prev.value, prev.ts, prev.origin, \
                EXISTS (SELECT 1 FROM up WHERE up.key = prev.key) FROM prev"
    )
}

fn delete_sql(table: &str, policy: ConflictPolicy) -> String {
    let condition = policy_condition(policy, "i.ts", "$3::text");
    format!(
        "WITH input AS (SELECT * FROM unnest($1::text[], $2::int8[]) AS i(key, ts)), \
         prev AS (SELECT t.key, t.value::text AS value, t.ts, t.origin FROM {table} t \
                  JOIN input i ON t.key = i.key WHERE t.origin <> $3), \
         del AS (DELETE FROM {table} t USING input i WHERE t.key = i.key AND ({condition}) \
                 RETURNING t.key) \
         SELECT prev.key, prev.value, prev.ts, prev.origin, \
                EXISTS (SELECT 1 FROM del WHERE del.key = prev.key) FROM prev"
    )
}

/// `CREATE TABLE IF NOT EXISTS` for a sync table.
pub fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (key text PRIMARY KEY, value jsonb, \
         ts bigint NOT NULL, origin text NOT NULL)"
    )
}

impl PostgresTarget {
    /// `table` must be a validated identifier (`name` or `schema.name`, see `spec`).
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
        let mut config =
            postgres::Config::from_str(&self.url).map_err(|e| self.error("bad url", e))?;
        config.connect_timeout(self.timeout);
        let mut client = config
            .connect(NoTls)
            .map_err(|e| self.error("cannot connect", e))?;
        client
            .batch_execute(&create_sql(&self.table))
            .map_err(|e| self.error("cannot create the table", e))?;
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
        let table = self.table.clone();
        let Some(connected) = self.connection.as_mut() else {
            return Ok(Vec::new());
        };
        if connected.prepared.as_ref().map(|p| p.0) != Some(policy) {
            let upsert = connected.client.prepare(&upsert_sql(&table, policy))?;
            let delete = connected.client.prepare(&delete_sql(&table, policy))?;
            connected.prepared = Some((policy, upsert, delete));
        }
        let Some((_, upsert, delete)) = connected.prepared.clone() else {
            return Ok(Vec::new());
        };
        let origin = batch
            .first()
            .map(|op| op.origin.to_string())
            .unwrap_or_default();
        let (puts, deletes): (Vec<&SyncOp>, Vec<&SyncOp>) =
            batch.iter().partition(|op| op.value.is_some());
        fn keys<'a>(ops: &[&'a SyncOp]) -> Vec<&'a str> {
            ops.iter().map(|op| op.key.as_str()).collect()
        }
        let stamps = |ops: &[&SyncOp]| ops.iter().map(|op| op.ts as i64).collect::<Vec<_>>();
        let values: Vec<&str> = puts
            .iter()
            .map(|op| op.value.as_deref().unwrap_or("null"))
            .collect();
        let (put_keys, put_ts) = (keys(&puts), stamps(&puts));
        let (delete_keys, delete_ts) = (keys(&deletes), stamps(&deletes));
        let upsert_params: [&(dyn postgres::types::ToSql + Sync); 4] =
            [&put_keys, &values, &put_ts, &origin];
        let delete_params: [&(dyn postgres::types::ToSql + Sync); 3] =
            [&delete_keys, &delete_ts, &origin];
        // NB: one statement is atomic by itself; a transaction (two more round trips) is
        // needed only when a batch has both upserts and deletes.
        let rows = match (puts.is_empty(), deletes.is_empty()) {
            (false, true) => connected.client.query(&upsert, &upsert_params)?,
            (true, false) => connected.client.query(&delete, &delete_params)?,
            (true, true) => Vec::new(),
            (false, false) => {
                let mut tx = connected.client.transaction()?;
                let mut rows = tx.query(&upsert, &upsert_params)?;
                rows.extend(tx.query(&delete, &delete_params)?);
                tx.commit()?;
                rows
            }
        };
        let by_key: std::collections::HashMap<&str, &SyncOp> =
            batch.iter().map(|op| (op.key.as_str(), op)).collect();
        let mut conflicts = Vec::new();
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
        crate::sinks::sync::config::TargetConfig::Postgres {
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
}
