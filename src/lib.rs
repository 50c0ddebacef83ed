//! kvflow: a key-value store whose every mutation is a timestamped update in a differential
//! collection, and pipelines over it compiled into timely dataflows.
//!
//! The path of one mutation, and the modules that follow it:
//!
//! 1. [`change::Mutation`] arrives from a file, the generator or the network ([`source`]).
//! 2. [`store`] — the shard that owns the key applies it, assigning the event kind and old value.
//! 3. [`change`] — the resulting [`change::ChangeEvent`] feeds two views on one timeline:
//!    `table` (live key/value state, with retractions) and `events` (append-only).
//! 4. [`dataflow_file`] (dataflow files, TOML or [`sql`]) and [`builder`] (Rust API) lower into one typed
//!    [`plan::Plan`]: sources, pipelines, and the sinks that read them ([`plan::sinks`]).
//! 5. [`render`] turns the plan's pipelines into timely/differential operators ([`operators`]).
//! 6. [`sinks`] write rows, late events and errors out, sync to other stores and alert;
//!    [`sinks::routes`] dispatch changes to handlers.
//! 7. [`assemble`] builds a worker's dataflow from a plan — store, pipelines, outputs, sinks —
//!    and hands back its input and probe; [`runtime`] starts the workers, feeds and steps
//!    them; [`server`] is the network front of a live run; the `kvflow` binary's commands
//!    parse arguments and call these.
//!
//! [`workload`] generates inputs and [`bench`](mod@bench) measures runs over them (`kvflow bench`);
//! [`exporter`] serves a run's counters to Prometheus (`--metrics`); [`allocator`] is the
//! global allocator of the binary and its benchmarks.
//!
//! # Layers
//!
//! Modules import one way, each only from the layers before it:
//!
//! ```text
//! allocator, value, schema → change → workload, source → store → expr → plan (sinks as data)
//!   → sql → dataflow_file, builder (front ends) → operators → render → sinks (routes among them)
//!   → assemble → runtime → server, bench → exporter → the binary's commands
//! ```
//!
//! A sink's description is plan data (typed, naming the pipeline it reads), so front ends,
//! `explain` and the checker see it without the code that delivers it; sinks receive what a
//! resumed run had already delivered as a value ([`sinks::resumed::Delivered`]), never the
//! run itself.
pub mod allocator;
pub mod assemble;
pub mod bench;
pub mod builder;
pub mod change;
pub mod dataflow_file;
pub mod exporter;
pub mod expr;
pub mod operators;
pub mod plan;
pub mod render;
pub mod rng;
pub mod runtime;
pub mod schema;
pub mod server;
pub mod sinks;
pub mod source;
pub mod sql;
pub mod store;
pub mod value;
pub mod workload;
