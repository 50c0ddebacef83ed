//! `DATA_DIR/manifest.json`: the shard count a data directory was created with, so that a
//! lost shard is noticed instead of silently shrinking the store.
//!
//! Decisions:
//! - **Recorded once, at creation, after the shard directories exist.** Every open checks
//!   that each recorded `shard-<k>` is there and that the run has as many shards. Without
//!   this record a deleted `shard-1` made a two-shard directory look like a one-shard one,
//!   and a run with `-w 1` went on with half the keys and history gone. A shard holds the
//!   only copy of its keys, so a missing one is an error naming it, never a suggestion to
//!   run with fewer workers.
//! - **The manifest is written after the shards** (atomically), so a crash while a
//!   directory is created never leaves a manifest naming shards that were never made.
//! - **Directories from before manifests** are read from their shard directories (one past
//!   the highest `shard-<k>`, every lower one required) and get a manifest on their next
//!   open; their checkpoint also records the shard count, which `runtime::durable` checks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::wal::WalError;
use super::wal::segment::write_atomic;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    shards: usize,
}

/// `DATA_DIR/shard-<k>`.
pub fn shard_dir(root: &Path, shard: usize) -> PathBuf {
    root.join(format!("shard-{shard}"))
}

/// `DATA_DIR/manifest.json`.
pub fn manifest_path(root: &Path) -> PathBuf {
    root.join("manifest.json")
}

/// The shard count `root` records (or, before manifests, shows), with every one of those
/// shard directories checked to be there; `None` for a directory with no shards yet.
pub fn recorded_shards(root: &Path) -> Result<Option<usize>, WalError> {
    let (recorded, source) = match read_manifest(root)? {
        Some(shards) => (Some(shards), manifest_path(root).display().to_string()),
        None => (found_shards(root)?, "its shard directories".to_string()),
    };
    if let Some(shards) = recorded {
        check_present(root, shards, &source)?;
    }
    Ok(recorded)
}

/// Checks that each of the `shards` shard directories that `source` records is there.
pub fn check_present(root: &Path, shards: usize, source: &str) -> Result<(), WalError> {
    let missing: Vec<String> = (0..shards)
        .map(|k| shard_dir(root, k))
        .filter(|dir| !dir.is_dir())
        .map(|dir| dir.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(WalError::Invalid(format!(
        "{} is missing: {} records {shards} shards ({source}), and a shard's keys and history \
         are in no other shard: restore it, or start a new data directory",
        missing.join(", "),
        root.display()
    )))
}

/// The recorded shard count without checking the shard directories (0: none recorded).
pub fn shard_count(root: &Path) -> usize {
    match read_manifest(root) {
        Ok(Some(shards)) => shards,
        _ => found_shards(root).ok().flatten().unwrap_or(0),
    }
}

/// Records `shards` for `root`, whose shard directories exist.
pub fn record_shards(root: &Path, shards: usize) -> Result<(), WalError> {
    let text = serde_json::to_vec(&Manifest { version: 1, shards })
        .map_err(|e| WalError::Invalid(format!("cannot encode the manifest: {e}")))?;
    write_atomic(&manifest_path(root), &text, "manifest")
}

/// Whether `root` has a manifest.
pub fn has_manifest(root: &Path) -> bool {
    manifest_path(root).is_file()
}

fn read_manifest(root: &Path) -> Result<Option<usize>, WalError> {
    let path = manifest_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WalError::io(&path, e)),
    };
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| WalError::Invalid(format!("{}: bad manifest: {e}", path.display())))?;
    Ok(Some(manifest.shards))
}

/// One past the highest `shard-<k>` directory in `root`, if there is any.
fn found_shards(root: &Path) -> Result<Option<usize>, WalError> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WalError::io(root, e)),
    };
    let mut highest = None;
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io(root, e))?;
        let name = entry.file_name();
        let shard = name.to_str().and_then(|n| n.strip_prefix("shard-"));
        if let Some(k) = shard.and_then(|k| k.parse::<usize>().ok())
            && entry.path().is_dir()
        {
            highest = highest.max(Some(k));
        }
    }
    Ok(highest.map(|k| k + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_shard_is_named_whatever_remains() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        assert_eq!(recorded_shards(root).unwrap(), None);
        for k in 0..3 {
            std::fs::create_dir_all(shard_dir(root, k)).unwrap();
        }
        assert_eq!(recorded_shards(root).unwrap(), Some(3), "before manifests");
        record_shards(root, 3).unwrap();
        std::fs::remove_dir_all(shard_dir(root, 2)).unwrap();
        let error = recorded_shards(root).unwrap_err().to_string();
        assert!(error.contains("shard-2 is missing"), "{error}");
        assert!(error.contains("records 3 shards"), "{error}");
        assert_eq!(shard_count(root), 3);
        std::fs::remove_file(manifest_path(root)).unwrap();
        std::fs::create_dir_all(shard_dir(root, 2)).unwrap();
        std::fs::remove_dir_all(shard_dir(root, 1)).unwrap();
        let error = recorded_shards(root).unwrap_err().to_string();
        assert!(error.contains("shard-1 is missing"), "{error}");
    }
}
