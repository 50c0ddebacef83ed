//! kvflow: a key-value store whose every mutation is a timestamped update in a differential
//! collection, and pipelines over it compiled into timely dataflows.
//!
//! The path of one mutation, and the modules that follow it:
//!
//! 1. [`change::Mutation`] arrives from a file, the generator or the network ([`source`]).
//! 2. [`store`] — the shard that owns the key applies it, assigning the event kind and old value.
//! 3. [`change`] — the resulting [`change::ChangeEvent`] feeds two views on one timeline:
//!    `table` (live key/value state, with retractions) and `events` (append-only).
//! 4. [`dataflow_file`] (dataflow files) and [`builder`] (Rust API) lower into one typed [`plan::Plan`].
//! 5. [`render`] turns the plan into timely/differential operators ([`operators`]).
//! 6. [`sinks`] write rows, late events and errors out, sync to other stores and alert;
//!    [`routes`] dispatch changes to handlers; [`runtime`] drives workers and batches.
//!
//! [`workload`] generates inputs and [`bench`] measures runs over them (`kvflow bench`).
pub mod bench;
pub mod builder;
pub mod change;
pub mod dataflow_file;
pub mod expr;
pub mod operators;
pub mod plan;
pub mod render;
pub mod rng;
pub mod routes;
pub mod runtime;
pub mod schema;
pub mod server;
pub mod sinks;
pub mod source;
pub mod store;
pub mod value;
pub mod workload;
