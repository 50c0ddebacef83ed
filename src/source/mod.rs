//! Where mutations come from: parsers and readers of external formats.
//!
//! - [`jsonl`]: JSON Lines, one mutation per line (`{"ts", "op", "key", "value"}`), with
//!   [`jsonl::write_mutation`] as its exact inverse.
//! - [`json_value`]: a serde deserializer straight into [`Value`](crate::value::Value), with
//!   no intermediate `serde_json::Value` tree.
//!
//! Generated (synthetic) mutations live in [`crate::workload`].

pub mod json_value;
pub mod jsonl;

pub use json_value::JsonValue;
pub use jsonl::{JsonlReader, LineError, parse_mutation, write_mutation};
