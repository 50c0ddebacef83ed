//! The store: one shard per worker, owning the keys that hash to it.
//!
//! A shard applies mutations in arrival order and decides what each one means: an insert,
//! an update (with the old value) or a delete. Nothing else in kvflow decides event kinds.
pub mod shard;

pub use shard::{Change, Ingest, Previous, ShardState, key_hash, owner_of, stable_hash};
