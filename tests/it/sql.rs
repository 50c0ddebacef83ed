//! SQL dataflow files (`.sql`): every shipped TOML dataflow of pipelines has an SQL twin
//! whose outputs are byte-identical; errors name line and column; the parser and lowering
//! never panic on random and mutated statements.

mod errors;
mod explain;
mod filter;
mod fuzz;
mod harness;
mod interval_join;
mod joins;
mod set_ops;
mod top_n;
mod twins;
mod typed_sources;
mod window_join;
