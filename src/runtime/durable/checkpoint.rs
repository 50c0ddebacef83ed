//! The checkpoint file `DATA_DIR/checkpoint.json`: where a durable run stands.
//!
//! A checkpoint is taken at a batch boundary once every time before the new batch's stamp
//! has been processed and written everywhere (the feeder holds the input there, so nothing
//! later can have been written): every shard's log holds exactly the mutations before
//! `next_seq` (later records are removed on restart, the input sends them again); every sink
//! has delivered exactly the times before `frontier`; each output file's length is recorded.
//! The timeline's state just before `next_seq` is kept so the resumed input is cut into the
//! same batches with the same stamps as an uninterrupted run.
//!
//! Written atomically (tmp + fsync + rename + directory fsync): a crash leaves the previous
//! checkpoint or the new one, never a mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::wal::WalError;
use crate::store::wal::segment::write_atomic;

/// The position of a run in its input and outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub shards: usize,
    /// Identifies the dataflow file the outputs belong to.
    pub dataflow: String,
    /// Identifies the input (see `DurableConfig::input_id`).
    pub input: String,
    /// The first seq not yet covered: the input resumes here.
    pub next_seq: u64,
    /// The timeline just before `next_seq`.
    pub max_seen: u64,
    pub stamp: u64,
    /// Sinks delivered every time before this; `None` once the run completed.
    pub frontier: Option<u64>,
    /// Output file lengths at the checkpoint.
    pub outputs: BTreeMap<String, u64>,
    /// `(process, processes)` of the cluster run that wrote it; absent for one process.
    #[serde(default)]
    pub process: Option<(usize, usize)>,
}

/// `DATA_DIR/checkpoint.json`.
pub fn checkpoint_path(root: &Path) -> PathBuf {
    root.join("checkpoint.json")
}

/// Reads the checkpoint, if one was written.
pub fn read_checkpoint(root: &Path) -> Result<Option<Checkpoint>, WalError> {
    let path = checkpoint_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WalError::io(&path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| WalError::Invalid(format!("{}: bad checkpoint: {e}", path.display())))
}

/// Writes the checkpoint atomically.
pub fn write_checkpoint(root: &Path, checkpoint: &Checkpoint) -> Result<(), WalError> {
    let path = checkpoint_path(root);
    let text = serde_json::to_vec_pretty(checkpoint)
        .map_err(|e| WalError::Invalid(format!("cannot encode the checkpoint: {e}")))?;
    write_atomic(&path, &text, "checkpoint")
}
