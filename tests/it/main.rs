//! kvflow's integration tests, as one test binary (one link for all of them). Each module
//! holds one area's tests; `support` holds what they share: the `kvflow` binary, free ports,
//! temporary directories, a seeded generator, waiting helpers, the crash, serve and tmpfs
//! harnesses, and the Redis and PostgreSQL servers the sink tests start for themselves.
//!
//! `cargo test --release` runs them all; `cargo test --release --test it -- sinks::` runs one
//! module's. A test that needs a program the machine lacks (`redis-server`, PostgreSQL's
//! `initdb` and `postgres`, `/usr/bin/chromium`, root for a tmpfs) prints
//! `SKIPPED: <test>: <why>` on stderr and checks nothing.

mod support;

mod alert_https;
mod append_only;
mod batching;
mod bench_cli;
mod bounded_memory;
mod cli;
mod crash;
mod crash_cluster;
mod crash_sinks;
mod dashboard;
mod dataflows;
mod durable_cli;
mod fused_map;
mod kept_values;
mod keyed_stream;
mod layers;
mod metrics;
mod metrics_serve;
mod metrics_sinks;
mod narrowed_sources;
mod new_user;
mod nexmark;
mod oracle;
mod reliability_run;
mod retention;
mod serve;
mod serve_crash;
mod serve_durable;
mod serve_events;
mod serve_hostile;
mod serve_limits;
mod serve_oracle;
mod serve_restart_state;
mod serve_sync;
mod sinks;
mod smoke;
mod source_fused;
mod sql;
mod wal_damage;
mod watch_follow;
