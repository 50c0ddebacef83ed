//! Sync sinks, alerts and routes against real endpoints: a `redis-server` and a PostgreSQL
//! the tests start for themselves (see `support::services`; each test on its own key prefix
//! or table), and HTTP servers the tests start. A test whose server is not installed prints
//! `SKIPPED: <test>: <why>` and checks nothing.

mod alert_delivery;
mod alerts;
pub mod common;
mod dataflow_files;
mod proxy;
mod routes;
mod sync_conflicts;
mod sync_outage;
mod sync_postgres;
mod sync_redis;
mod target_writes;
mod tombstones;
mod webhook;
