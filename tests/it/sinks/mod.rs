//! Sync sinks, alerts and routes against real endpoints: the Redis and PostgreSQL services of
//! this machine (each test on its own key prefix / table), and HTTP servers the tests start.
//! A test whose service is unreachable fails naming it, unless `KVFLOW_SKIP_SERVICES=1`.

mod alert_delivery;
mod alerts;
mod common;
mod dataflow_files;
mod proxy;
mod routes;
mod sync_conflicts;
mod sync_outage;
mod sync_postgres;
mod sync_redis;
mod tombstones;
mod webhook;
