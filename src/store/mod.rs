//! The store: one shard per worker, owning the keys that hash to it.
//!
//! A shard applies mutations in arrival order and decides what each one means: an insert,
//! an update (with the old value) or a delete, with [`event_kind`]: nothing else in kvflow
//! decides event kinds (the server's change stream asks the same function).
//! With a data directory each shard also logs what it applies ([`wal`]) and snapshots its
//! state ([`snapshot`]); [`log_progress`] tells a server which of its writes are logged.
pub mod data_dir;
pub mod faults;
pub mod key_pattern;
pub mod log_progress;
pub mod log_tail;
pub mod manifest;
pub mod operator;
mod route;
pub mod shard;
pub mod shared;
pub mod snapshot;
pub mod stream;
pub mod wal;

pub use key_pattern::KeyPattern;
pub use operator::shard_operator;
pub use shard::{
    Change, Ingest, Previous, ShardState, Stored, event_kind, key_hash, owner_of, stable_hash,
};
pub use shared::{ChangeStream, SharedChanges, unshared};
