//! Mutations in, change events out: the records that connect the store to the dataflows.
//!
//! A [`Mutation`] is what a client asks for; a [`ChangeEvent`] is what happened, as decided by
//! the shard that owns the key. Both carry event time (`ts`, milliseconds since the epoch) as
//! data; the timely timestamp is the watermark (see [`time`]).
pub mod event;
pub mod shared_row;
pub mod time;

pub use event::{ChangeEvent, EventKind, Mutation, Op};
