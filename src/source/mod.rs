//! Where mutations come from: parsers and readers of external formats.
//!
//! - [`jsonl`]: JSON Lines, one mutation per line (`{"ts", "op", "key", "value"}`), with
//!   [`jsonl::write_mutation`] as its exact inverse.
//!
//! JSON values are parsed straight into [`Value`](crate::value::Value) by
//! [`value::json`](crate::value::json), which the store's log uses too.
//!
//! Generated (synthetic) mutations live in [`crate::workload`].

mod fast_line;
pub mod jsonl;

pub use crate::value::json::JsonValue;
pub use jsonl::{JsonlReader, LineError, parse_mutation, write_mutation};
