//! Redis target (the `redis` crate): each key `prefix + key` holds the value's JSON text.
//!
//! With `versions` (the default), a batch is one `EVALSHA` of a Lua script that reads the
//! versions of its keys from the hash `prefix + "__kvflow_versions"` and the keys' values,
//! applies the conflict policy per key, and writes values and versions with one `HMGET`,
//! `MGET`, `MSET`, `DEL` and `HSET` per 1000 keys — one round trip per batch, atomic, so no
//! other client's write can fall between the check and the write. (Keys of a batch are
//! distinct: the sink keeps the last change per key.) A delete keeps its version as a
//! tombstone, so a late older write cannot resurrect the key under last-writer-wins. Without
//! versions a batch is a pipeline of plain `SET`/`DEL` (only source-wins, no conflict
//! detection; checked when the file is loaded).
//!
//! A version is the text `"ts:fingerprint origin"`: the change's event time, the
//! [`fingerprint`] of the value written (16 hex digits of its SHA-1, `-` for a delete) and
//! the origin. The fingerprint is how a write made directly to the target is told apart:
//! when the key's value no longer matches it (`redis.sha1hex` in the script), or a key has a
//! value but no version, another client wrote it, and the change meets an edited target
//! (see `conflict`: a conflict, which only target-wins keeps). A version without a
//! fingerprint (`"ts origin"`, written before fingerprints) is not checked for edits.
//!
//! The script's arguments, with the batch ordered upserts first, then deletes:
//! `KEYS = [versions, key_1 .. key_n]`, `ARGV = [policy, upserts, want_old,
//! version_1 .. version_n, value_1 .. value_upserts]`, each version as the hash stores it.
//! It returns five items per conflict: the key's index, the target's version (nil when the
//! key had none), the target's value (only when `want_old`, else nil), whether the change
//! was written and whether the target was edited.
//!
//! Decisions, each measured with the sync bench and a script-by-script comparison against
//! the same rows (`INFO commandstats`, interleaved batches):
//! - **Versions are written as the hash stores them** (`"ts:fingerprint origin"`,
//!   formatted by the client, which also hashes the value), and keys and values go straight
//!   into the command buffer: no operation code, no separate ts argument and no string
//!   concatenation in Lua, no `format!` per key. Most
//!   of a batch's time is the server's (Lua strings made from arguments, each
//!   `redis.call` turning them back into Redis strings, then `HMGET`, `MSET` and `HSET`
//!   themselves), so every argument per key counts.
//! - **Each change carries its own origin** in its version, so a batch mixing origins (a
//!   table sync relaying changes from several nodes) is checked per change.
//! - **The old value is returned only for the conflict log** (`want_old`): counting
//!   conflicts needs only the version. The script reads every value of the batch anyway
//!   (`MGET`) to check the fingerprints, and hashes only the values of keys that have a
//!   version with one.
//! - **Conflicts come back as indexes into the batch**, so the client needs no map of keys.
//! - **Kept: one script per batch, versions in one hash.** Writing values with a native
//!   `MSET` inside `MULTI` around a checking script was measured 5 to 10 points of the bulk
//!   rate faster, but a script error between them would let unchecked writes through, and
//!   a key losing a conflict would be overwritten and restored (losing its TTL); a value
//!   hash per key (version beside the value) needs one call per key, several times slower,
//!   and changes what readers `GET`. Even without any script, `HMGET` + `MSET` + `HSET` of
//!   a batch (not atomic) reach only about three quarters of the rate of pipelined `SET`s
//!   of the same rows here: the versions double the writes. See BENCHMARKS.md.

use std::io::Write;
use std::time::Duration;

use redis::{Client, Cmd, Connection, RedisWrite, Script, Value};

use super::{Target, TargetError};
use crate::sinks::sync::SyncOp;
use crate::sinks::sync::conflict::{Conflict, ConflictPolicy};

/// The hash of versions, after the prefix.
pub const VERSIONS_KEY: &str = "__kvflow_versions";

const APPLY_SCRIPT: &str = r#"
local versions = KEYS[1]
local policy = ARGV[1]
local upserts = tonumber(ARGV[2])
local want_old = ARGV[3] == '1'
local n = #KEYS - 1
local conflicts, nc = {}, 0
local function split(version)
  local space = string.find(version, ' ', 1, true) or (#version + 1)
  local colon = string.find(version, ':', 1, true)
  if colon and colon > space then colon = nil end
  local ts = tonumber(string.sub(version, 1, (colon or space) - 1)) or 0
  local fingerprint = colon and string.sub(version, colon + 1, space - 1)
  return ts, fingerprint, string.sub(version, space + 1)
end
local function edited(prev, value)
  if not prev then return value ~= false end
  local _, fingerprint = split(prev)
  if not fingerprint then return false end
  if value then return fingerprint ~= string.sub(redis.sha1hex(value), 1, 16) end
  return fingerprint ~= '-'
end
for s = 1, n, 1000 do
  local e = math.min(s + 999, n)
  local prevs = redis.call('HMGET', versions, unpack(KEYS, s + 1, e + 1))
  local values = redis.call('MGET', unpack(KEYS, s + 1, e + 1))
  local sets, dels, vers = {}, {}, {}
  local ns, nd, nv = 0, 0, 0
  for i = s, e do
    local ver = ARGV[3 + i]
    local prev = prevs[i - s + 1]
    local value = values[i - s + 1]
    local write = true
    local conflict = false
    local changed = edited(prev, value)
    if changed then
      conflict = true
      write = policy ~= 'target-wins'
    elseif prev and prev ~= ver then
      local prev_ts, _, prev_origin = split(prev)
      local ts, _, origin = split(ver)
      if prev_origin ~= origin then
        conflict = true
        if policy == 'last-writer-wins' then
          write = ts > prev_ts or (ts == prev_ts and origin > prev_origin)
        elseif policy == 'target-wins' then
          write = false
        end
      end
    end
    if conflict then
      conflicts[nc + 1] = i
      conflicts[nc + 2] = prev
      conflicts[nc + 3] = want_old and value
      conflicts[nc + 4] = write and 1 or 0
      conflicts[nc + 5] = changed and 1 or 0
      nc = nc + 5
    end
    if write then
      local key = KEYS[i + 1]
      if i <= upserts then
        sets[ns + 1] = key
        sets[ns + 2] = ARGV[3 + n + i]
        ns = ns + 2
      else
        nd = nd + 1
        dels[nd] = key
      end
      vers[nv + 1] = key
      vers[nv + 2] = ver
      nv = nv + 2
    end
  end
  if ns > 0 then redis.call('MSET', unpack(sets)) end
  if nd > 0 then redis.call('DEL', unpack(dels)) end
  if nv > 0 then redis.call('HSET', versions, unpack(vers)) end
end
return conflicts
"#;

static APPLY: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(APPLY_SCRIPT));

pub struct RedisTarget {
    url: String,
    prefix: String,
    versions: bool,
    /// Read the target's value of each conflict (for the conflict log).
    want_old: bool,
    timeout: Duration,
    connection: Option<Connection>,
}

impl RedisTarget {
    pub fn new(
        url: &str,
        prefix: &str,
        versions: bool,
        want_old: bool,
        timeout: Duration,
    ) -> RedisTarget {
        RedisTarget {
            url: url.to_string(),
            prefix: prefix.to_string(),
            versions,
            want_old,
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
        let ordered = upserts_first(batch);
        let command = apply_command(&self.prefix, &ordered, policy, self.want_old);
        let connection = self.connection()?;
        let reply = run_script(connection, &command).map_err(|e| {
            self.connection = None;
            self.error("batch failed", e)
        })?;
        conflicts_of(reply, &ordered).map_err(|e| self.error("unexpected script reply", e))
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

/// The batch with its upserts first, as the script takes it.
fn upserts_first(batch: &[SyncOp]) -> Vec<&SyncOp> {
    let mut ordered: Vec<&SyncOp> = Vec::with_capacity(batch.len());
    ordered.extend(batch.iter().filter(|op| op.value.is_some()));
    ordered.extend(batch.iter().filter(|op| op.value.is_none()));
    ordered
}

/// Appends `prefix + key` as one argument, without an intermediate string.
fn write_key(command: &mut Cmd, prefix: &str, key: &str) {
    let mut arg = command.writer_for_next_arg();
    // NB: writing to the command's in-memory buffer cannot fail.
    let _ = arg.write_all(prefix.as_bytes());
    let _ = arg.write_all(key.as_bytes());
}

/// The `EVALSHA` of the apply script for `ordered` (upserts first).
fn apply_command(prefix: &str, ordered: &[&SyncOp], policy: ConflictPolicy, want_old: bool) -> Cmd {
    let mut command = redis::cmd("EVALSHA");
    command.arg(APPLY.get_hash()).arg(ordered.len() + 1);
    write_key(&mut command, prefix, VERSIONS_KEY);
    for op in ordered {
        write_key(&mut command, prefix, &op.key);
    }
    let upserts = ordered.iter().take_while(|op| op.value.is_some()).count();
    command
        .arg(policy.name())
        .arg(upserts)
        .arg(if want_old { "1" } else { "0" });
    for op in ordered {
        let mut arg = command.writer_for_next_arg();
        let _ = write!(arg, "{}:", op.ts);
        let _ = arg.write_all(&fingerprint(op.value.as_deref()));
        let _ = write!(arg, " {}", op.origin);
    }
    for value in ordered.iter().filter_map(|op| op.value.as_deref()) {
        command.write_arg(value.as_bytes());
    }
    command
}

/// Runs the apply script, loading it first if the server does not have it.
fn run_script(connection: &mut Connection, command: &Cmd) -> redis::RedisResult<Value> {
    match command.query(connection) {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            APPLY.load(connection)?;
            command.query(connection)
        }
        other => other,
    }
}

/// Items per conflict in the script's reply: index, version, old value, written, edited.
const CONFLICT_ITEMS: usize = 5;

/// What a version records of the value it wrote: the first 16 hex digits of the SHA-1 of
/// the value's text (what the script compares with `redis.sha1hex` of the key's value), or
/// `-` for a delete.
pub fn fingerprint(value: Option<&str>) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let Some(value) = value else {
        return b"-".to_vec();
    };
    let digest = sha1_smol::Sha1::from(value.as_bytes()).digest().bytes();
    digest[..8]
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]])
        .collect()
}

/// A stored version `"ts:fingerprint origin"` (or `"ts origin"`, written before versions
/// had fingerprints) as `(ts, origin)`; a version someone else wrote in another shape reads
/// as ts 0.
pub fn parse_version(version: &str) -> (u64, &str) {
    let (stamp, origin) = version.split_once(' ').unwrap_or(("0", version));
    let ts = stamp.split(':').next().unwrap_or_default();
    (ts.parse().unwrap_or(0), origin)
}

/// The script's reply ([`CONFLICT_ITEMS`] per conflict) as conflicts of `ordered`.
fn conflicts_of(reply: Value, ordered: &[&SyncOp]) -> Result<Vec<Conflict>, String> {
    let items = match reply {
        Value::Array(items) => items,
        Value::Nil => Vec::new(),
        other => return Err(format!("not an array: {other:?}")),
    };
    if !items.len().is_multiple_of(CONFLICT_ITEMS) {
        return Err(format!(
            "{} items, not {CONFLICT_ITEMS} per conflict",
            items.len()
        ));
    }
    let mut items = items.into_iter();
    let mut conflicts = Vec::with_capacity(items.len() / CONFLICT_ITEMS);
    while let (Some(index), Some(version), Some(old), Some(written), Some(edited)) = (
        items.next(),
        items.next(),
        items.next(),
        items.next(),
        items.next(),
    ) {
        let op = usize::try_from(int_of(&index)?)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| ordered.get(i))
            .ok_or_else(|| format!("no change at index {index:?}"))?;
        // NB: a key written without a version (edited) reports ts 0 and no origin.
        let version = text_of(version)?.unwrap_or_default();
        let (ts, origin) = parse_version(&version);
        conflicts.push(Conflict {
            key: op.key.clone(),
            target_value: text_of(old)?,
            target_ts: ts,
            target_origin: origin.to_string(),
            target_edited: int_of(&edited)? == 1,
            incoming_value: op.value.clone(),
            incoming_ts: op.ts,
            incoming_origin: op.origin.to_string(),
            written: int_of(&written)? == 1,
        });
    }
    Ok(conflicts)
}

fn int_of(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(format!("not an integer: {other:?}")),
    }
}

fn text_of(value: Value) -> Result<Option<String>, String> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Value::SimpleString(text) => Ok(Some(text)),
        other => Err(format!("not a string: {other:?}")),
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
        let mut command = match &op.value {
            Some(_) => redis::cmd("SET"),
            None => redis::cmd("DEL"),
        };
        write_key(&mut command, prefix, &op.key);
        if let Some(value) = &op.value {
            command.write_arg(value.as_bytes());
        }
        pipe.add_command(command).ignore();
    }
    pipe
}

impl Target for RedisTarget {
    fn describe(&self) -> String {
        crate::plan::sinks::TargetConfig::Redis {
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
        if batch.is_empty() {
            // NB: an empty batch only connects (Redis refuses an empty pipeline).
            return self.connection().map(|_| Vec::new());
        }
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

    fn purge_tombstones(&mut self, before: u64) -> Result<u64, TargetError> {
        if !self.versions {
            return Ok(0);
        }
        let versions = format!("{}{VERSIONS_KEY}", self.prefix);
        let connection = self.connection()?;
        let purged = purge_versions(connection, &versions, before);
        purged.map_err(|e| {
            self.connection = None;
            self.error("purging tombstones failed", e)
        })
    }
}

/// Drops the version of each key that no longer exists and whose version is older than
/// `before`, atomically per page (the key may have been written again in between).
const PURGE_SCRIPT: &str = r#"
local purged = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('HGET', KEYS[1], KEYS[i]) == ARGV[i - 1] then
    redis.call('HDEL', KEYS[1], KEYS[i])
    purged = purged + 1
  end
end
return purged
"#;

static PURGE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new(PURGE_SCRIPT));

/// Walks the versions hash with `HSCAN` and purges, page by page, the tombstones older than
/// `before` (a version `"ts origin"` whose key is gone).
fn purge_versions(
    connection: &mut Connection,
    versions: &str,
    before: u64,
) -> redis::RedisResult<u64> {
    let mut cursor: u64 = 0;
    let mut purged = 0;
    loop {
        let (next, page): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
            .arg(versions)
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(connection)?;
        let old: Vec<&(String, String)> = page
            .iter()
            .filter(|(_, version)| version_ts(version).is_some_and(|ts| ts < before))
            .collect();
        if !old.is_empty() {
            let mut invocation = PURGE.prepare_invoke();
            invocation.key(versions);
            for (key, version) in &old {
                invocation.key(key.as_str()).arg(version.as_str());
            }
            let count: u64 = invocation.invoke(connection)?;
            purged += count;
        }
        if next == 0 {
            return Ok(purged);
        }
        cursor = next;
    }
}

/// The event time of a stored version `"ts:fingerprint origin"` (or `"ts origin"`).
fn version_ts(version: &str) -> Option<u64> {
    version.split([' ', ':']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(key: &str, value: Option<&str>, ts: u64, origin: &str) -> SyncOp {
        SyncOp {
            key: key.into(),
            value: value.map(str::to_string),
            ts,
            origin: origin.into(),
        }
    }

    /// The command's arguments as text, after `EVALSHA <sha>`.
    fn args(command: &Cmd) -> Vec<String> {
        command
            .args_iter()
            .skip(2)
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<other>".into(),
            })
            .collect()
    }

    #[test]
    fn the_script_takes_upserts_first_and_versions_as_stored() {
        let batch = [
            op("a", None, 5, "n1"),
            op("b", Some("1"), 6, "n2"),
            op("c", Some("2"), 7, "n1"),
        ];
        let ordered = upserts_first(&batch);
        let command = apply_command("p:", &ordered, ConflictPolicy::LastWriterWins, false);
        let expected = [
            "4",
            "p:__kvflow_versions",
            "p:b",
            "p:c",
            "p:a",
            "last-writer-wins",
            "2",
            "0",
            "6:356a192b7913b04c n2",
            "7:da4b9237bacccdf1 n1",
            "5:- n1",
            "1",
            "2",
        ];
        assert_eq!(args(&command), expected);
    }

    #[test]
    fn fingerprints_are_the_start_of_the_sha1_redis_computes() {
        // sha1("1") = 356a192b7913b04c54574d18c28d46e6395428ab, as `redis.sha1hex` gives it.
        assert_eq!(fingerprint(Some("1")), b"356a192b7913b04c");
        assert_eq!(fingerprint(None), b"-");
        assert_eq!(parse_version("12:356a192b7913b04c node a"), (12, "node a"));
        assert_eq!(parse_version("12 node:a"), (12, "node:a"));
        assert_eq!(parse_version("junk"), (0, "junk"));
        assert_eq!(version_ts("12:-"), Some(12));
        assert_eq!(version_ts("12 n"), Some(12));
    }

    #[test]
    fn conflicts_map_back_to_the_batch_and_bad_replies_are_errors() {
        let batch = [op("a", None, 5, "n1"), op("b", Some("1"), 6, "n1")];
        let ordered = upserts_first(&batch);
        let reply = Value::Array(vec![
            Value::Int(2),
            Value::BulkString(b"9:- other node".to_vec()),
            Value::Nil,
            Value::Int(0),
            Value::Int(0),
            Value::Int(1),
            Value::Nil,
            Value::BulkString(b"\"mine\"".to_vec()),
            Value::Int(1),
            Value::Int(1),
        ]);
        let conflicts = conflicts_of(reply, &ordered).unwrap();
        assert_eq!(conflicts.len(), 2);
        let c = &conflicts[0];
        assert_eq!((c.key.as_str(), c.incoming_value.as_deref()), ("a", None));
        assert_eq!((c.target_ts, c.target_origin.as_str()), (9, "other node"));
        assert_eq!((c.target_value.as_deref(), c.written), (None, false));
        assert!(!c.target_edited);
        let edited = &conflicts[1];
        assert_eq!(edited.key, "b");
        assert_eq!((edited.target_ts, edited.target_origin.as_str()), (0, ""));
        assert_eq!(edited.target_value.as_deref(), Some("\"mine\""));
        assert!(edited.target_edited && edited.written);
        let out_of_range = Value::Array(vec![
            Value::Int(3),
            Value::Nil,
            Value::Nil,
            Value::Int(1),
            Value::Int(0),
        ]);
        assert!(conflicts_of(out_of_range, &ordered).is_err());
        assert!(conflicts_of(Value::Array(vec![Value::Int(1)]), &ordered).is_err());
        assert!(conflicts_of(Value::Okay, &ordered).is_err());
    }
}
