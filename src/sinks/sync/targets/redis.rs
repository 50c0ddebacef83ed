//! Redis target (the `redis` crate): each key `prefix + key` holds the value's JSON text.
//!
//! With `versions` (the default), a batch is one `EVALSHA` of a Lua script that reads the
//! versions `(ts, origin)` of its keys from the hash `prefix + "__kvflow_versions"` (one
//! `HMGET` per 1000 keys), applies the conflict policy per key, and writes values and
//! versions with one `MSET`, `DEL` and `HSET` per 1000 keys — one round trip per batch, few
//! server calls per key, and atomic, so no other client's write can fall between the check
//! and the write. (Keys of a batch are distinct: the sink keeps the last change per key.) A delete
//! keeps its version as a tombstone, so a late older write cannot resurrect the key under
//! last-writer-wins. Without versions a batch is a pipeline of plain `SET`/`DEL` (only
//! source-wins, no conflict detection; checked when the file is loaded).

use std::time::Duration;

use redis::{Client, Connection, Script};

use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

/// The hash of versions, after the prefix.
pub const VERSIONS_KEY: &str = "__kvflow_versions";

const APPLY_SCRIPT: &str = r#"
local versions = KEYS[1]
local policy = ARGV[1]
local origin = ARGV[2]
local conflicts = {}
for start = 2, #KEYS, 1000 do
  local stop = math.min(start + 999, #KEYS)
  local chunk = {}
  for i = start, stop do chunk[#chunk + 1] = KEYS[i] end
  local prevs = redis.call('HMGET', versions, unpack(chunk))
  local sets, dels, vers = {}, {}, {}
  for j = 1, #chunk do
    local key = chunk[j]
    local at = 3 + 3 * (start + j - 3)
    local op, ts, value = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    local write = true
    local prev = prevs[j]
    if prev then
      local sep = string.find(prev, ' ', 1, true)
      local prev_ts = tonumber(string.sub(prev, 1, sep - 1))
      local prev_origin = string.sub(prev, sep + 1)
      if prev_origin ~= origin then
        local n = tonumber(ts)
        if policy == 'last-writer-wins' then
          write = n > prev_ts or (n == prev_ts and origin > prev_origin)
        elseif policy == 'target-wins' then
          write = false
        end
        local old = redis.call('GET', key)
        if not old then old = '' end
        conflicts[#conflicts + 1] = {key, prev, old, write and 1 or 0}
      end
    end
    if write then
      if op == 's' then
        sets[#sets + 1] = key
        sets[#sets + 1] = value
      else
        dels[#dels + 1] = key
      end
      vers[#vers + 1] = key
      vers[#vers + 1] = ts .. ' ' .. origin
    end
  end
  if #sets > 0 then redis.call('MSET', unpack(sets)) end
  if #dels > 0 then redis.call('DEL', unpack(dels)) end
  if #vers > 0 then redis.call('HSET', versions, unpack(vers)) end
end
return conflicts
"#;

static APPLY: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(APPLY_SCRIPT));

pub struct RedisTarget {
    url: String,
    prefix: String,
    versions: bool,
    timeout: Duration,
    connection: Option<Connection>,
}

impl RedisTarget {
    pub fn new(url: &str, prefix: &str, versions: bool, timeout: Duration) -> RedisTarget {
        RedisTarget {
            url: url.to_string(),
            prefix: prefix.to_string(),
            versions,
            timeout,
            connection: None,
        }
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> TargetError {
        TargetError(format!("{}: {what}: {e}", self.describe()))
    }

    fn connect(&self) -> Result<Connection, TargetError> {
        open_connection(&self.url, self.timeout).map_err(|e| self.error("cannot connect", e))
    }

    fn connection(&mut self) -> Result<&mut Connection, TargetError> {
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| TargetError("no connection".into()))
    }

    fn apply_versioned(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, TargetError> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let origin = first.origin.clone();
        let mut invocation = APPLY.prepare_invoke();
        invocation.key(format!("{}{VERSIONS_KEY}", self.prefix));
        invocation.arg(policy.name()).arg(&*origin);
        for op in batch {
            invocation.key(format!("{}{}", self.prefix, op.key));
            let (code, value) = match &op.value {
                Some(v) => ("s", v.as_str()),
                None => ("d", ""),
            };
            invocation.arg(code).arg(op.ts).arg(value);
        }
        let connection = self.connection()?;
        let reply: Result<Vec<(String, String, String, i64)>, _> = invocation.invoke(connection);
        let rows = reply.map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })?;
        let by_key: std::collections::HashMap<String, &SyncOp> = batch
            .iter()
            .map(|op| (format!("{}{}", self.prefix, op.key), op))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|(key, version, old, written)| {
                let op = by_key.get(&key)?;
                let (ts, origin) = version.split_once(' ')?;
                Some(Conflict {
                    key: op.key.clone(),
                    target_value: (!old.is_empty()).then_some(old),
                    target_ts: ts.parse().ok()?,
                    target_origin: origin.to_string(),
                    incoming_value: op.value.clone(),
                    incoming_ts: op.ts,
                    incoming_origin: op.origin.to_string(),
                    written: written == 1,
                })
            })
            .collect())
    }

    fn apply_plain(&mut self, batch: &[SyncOp]) -> Result<(), TargetError> {
        let pipe = plain_pipeline(&self.prefix, batch);
        let connection = self.connection()?;
        let result: Result<(), _> = pipe.query(connection);
        result.map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })
    }
}

/// A connection with connect, read and write timeouts.
pub fn open_connection(url: &str, timeout: Duration) -> redis::RedisResult<Connection> {
    let connection = Client::open(url)?.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}

/// A pipeline of `SET prefix+key value` / `DEL prefix+key`, replies ignored.
pub fn plain_pipeline(prefix: &str, batch: &[SyncOp]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for op in batch {
        let key = format!("{prefix}{}", op.key);
        match &op.value {
            Some(value) => pipe.cmd("SET").arg(key).arg(value.as_str()).ignore(),
            None => pipe.cmd("DEL").arg(key).ignore(),
        };
    }
    pipe
}

impl Target for RedisTarget {
    fn describe(&self) -> String {
        crate::sinks::sync::config::TargetConfig::Redis {
            url: self.url.clone(),
            prefix: self.prefix.clone(),
            versions: self.versions,
        }
        .describe()
    }

    fn apply(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
    ) -> Result<Vec<Conflict>, TargetError> {
        if self.versions {
            self.apply_versioned(batch, policy)
        } else {
            self.apply_plain(batch).map(|()| Vec::new())
        }
    }

    fn check(&mut self) -> Result<(), TargetError> {
        let connection = self.connection()?;
        let pong: Result<String, _> = redis::cmd("PING").query(connection);
        pong.map(|_| ()).map_err(|e| {
            self.connection = None;
            self.error("PING failed", e)
        })
    }
}
