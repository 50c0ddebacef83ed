//! `kvflow serve`: a Redis-protocol server whose writes are the store's mutations and feed
//! the running dataflows.
//!
//! The path of one `SET`: a connection's event loop ([`listen`]) reads the socket and
//! parses every complete request in its buffer ([`resp`]); [`conn`] runs them under one
//! lock of the server's state ([`db`]: keyspace, change ring, pub/sub) and writes all
//! replies with one `write`. A request takes its time from the server's clock
//! ([`Server::clock`], a `change::time::Clock`). Each write gets the next `seq` and the event
//! kind the store decides (`store::event_kind`), publishes its keyspace notification
//! ([`notify::KeyspaceEvent`]) and joins the request's group of mutations, which is handed to
//! the dataflow in one push (`runtime::live_queue`). There the store shard logs the group (one WAL
//! commit) and applies it, and the pipelines' sinks write files and the views ([`view`]).
//!
//! Without a data directory a write is acknowledged once applied here. With one, a write's
//! reply (and every reply after it on that connection) waits until the write is in its
//! shard's log under the fsync policy (`store::log_progress`): with `--fsync always` it is
//! on disk before `+OK` goes out, with `interval:N` at most the last N ms of acknowledged
//! writes can be lost in a crash, and with `never` what the OS had written. Writes of one
//! event-loop round go to the log in one commit (one fsync), so many clients share a sync.
//! A write that cannot be logged (a full disk) is answered with `-IOERR`, and while the log
//! cannot be written every write is refused with `-MISCONF` (reads go on); `INFO
//! persistence` and the server's log say why, and writes are taken again once a retry of
//! the log succeeds. A graceful shutdown (SIGTERM) hands every applied write to the dataflow,
//! lets it log and process them, and syncs the WAL before the process exits.

pub mod changes;
pub mod commands;
pub mod conn;
pub mod db;
pub mod expiry_log;
pub mod glob;
pub mod keyspace;
pub mod listen;
pub mod notify;
pub mod resp;
pub mod restore;
pub mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::change::time::{Clock, SystemClock};
use crate::runtime::Metrics;
use crate::runtime::live_queue::LiveQueue;
use crate::sinks::external::ExternalSinks;
use crate::store::log_progress::LogProgress;

use db::Db;
use resp::Limits;

/// The stream name of the change stream (`XREAD ... STREAMS __changes <id>`).
pub const CHANGES_STREAM: &str = "__changes";

/// A server's settings.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub requirepass: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub limits: Limits,
    /// Close connections idle this long (not subscribers or blocked readers).
    pub idle_timeout: Option<Duration>,
    /// Most bytes of unread pub/sub messages a subscriber may have.
    pub pubsub_limit: usize,
    /// Most bytes of unwritten replies any client may have (a change-stream reader that
    /// asks for more than it reads is disconnected at this point).
    pub output_limit: usize,
    /// Event-loop threads.
    pub io_threads: usize,
    /// Recent changes kept in memory for `XREAD`.
    pub change_ring: usize,
    /// Key prefixes of materialized views (read-only).
    pub view_prefixes: Vec<String>,
    /// Most clients at once; one more is answered Redis's "max number of clients reached".
    pub maxclients: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7379)),
            requirepass: None,
            data_dir: None,
            limits: Limits::default(),
            idle_timeout: None,
            pubsub_limit: 32 << 20,
            output_limit: 1 << 30,
            io_threads: 1,
            change_ring: 100_000,
            view_prefixes: Vec::new(),
            maxclients: listen::DEFAULT_MAXCLIENTS,
        }
    }
}

/// Counters for `INFO`.
#[derive(Default)]
pub struct Stats {
    pub connected: AtomicUsize,
    pub connections_received: AtomicU64,
    pub commands: AtomicU64,
    /// Connections refused at `maxclients`.
    pub rejected: AtomicU64,
    /// Failed `accept` calls (out of descriptors and the like).
    pub accept_errors: AtomicU64,
    /// Connected clients that have not authenticated (with `--requirepass`).
    pub unauthenticated: AtomicUsize,
    /// Clients closed for a request larger than an unauthenticated client may send.
    pub unauthenticated_refused: AtomicU64,
}

/// The state every event loop shares.
pub struct Server {
    pub config: ServeConfig,
    pub db: Mutex<Db>,
    pub queue: Arc<LiveQueue>,
    pub metrics: Arc<Metrics>,
    pub stats: Stats,
    pub started: Instant,
    pub shutdown: AtomicBool,
    /// The ingest clock: each request's time, the event time of its writes and the base of
    /// expiries.
    pub clock: Arc<dyn Clock>,
    wakers: OnceLock<Vec<Arc<mio::Waker>>>,
    next_id: AtomicU64,
    /// With a data directory: which writes are logged (replies wait for it).
    log: OnceLock<Arc<LogProgress>>,
    /// The dataflow's sync targets, alerts and routes, for `INFO`.
    external: Option<Arc<ExternalSinks>>,
}

impl Server {
    pub fn new(
        config: ServeConfig,
        db: Db,
        queue: Arc<LiveQueue>,
        metrics: Arc<Metrics>,
    ) -> Server {
        Server {
            config,
            db: Mutex::new(db),
            queue,
            metrics,
            stats: Stats::default(),
            started: Instant::now(),
            shutdown: AtomicBool::new(false),
            clock: Arc::new(SystemClock),
            wakers: OnceLock::new(),
            next_id: AtomicU64::new(1),
            log: OnceLock::new(),
            external: None,
        }
    }

    /// The same server reporting `external`'s counters in `INFO`.
    pub fn with_external(mut self, external: Arc<ExternalSinks>) -> Server {
        self.external = Some(external);
        self
    }

    /// The dataflow's sync targets, alerts and routes, when given.
    pub fn external(&self) -> Option<&ExternalSinks> {
        self.external.as_deref()
    }

    /// The same server reading the time from `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Server {
        self.clock = clock;
        self
    }

    /// The clock's time (ms), at which a request starts.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Makes replies to writes wait until `progress` says they are logged; its changes wake
    /// the event loops.
    pub fn acknowledge_when_logged(self: &Arc<Self>, progress: Arc<LogProgress>) {
        let server = Arc::downgrade(self);
        progress.on_change(move || {
            if let Some(server) = server.upgrade() {
                server.wake_all();
            }
        });
        let _ = self.log.set(progress);
    }

    /// Which writes are logged, when replies wait for it.
    pub fn log_progress(&self) -> Option<&LogProgress> {
        self.log.get().map(|p| &**p)
    }

    /// Why the log cannot be written, while it cannot.
    pub fn log_error(&self) -> Option<String> {
        self.log_progress().and_then(LogProgress::error)
    }

    /// The state, locked (a panic elsewhere never makes it unusable).
    pub fn lock(&self) -> MutexGuard<'_, Db> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn next_connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn is_view_key(&self, key: &str) -> bool {
        self.config
            .view_prefixes
            .iter()
            .any(|prefix| key.starts_with(prefix.as_str()))
    }

    fn set_wakers(&self, wakers: Vec<Arc<mio::Waker>>) {
        let _ = self.wakers.set(wakers);
    }

    /// Wakes every event loop (new changes for blocked readers, shutdown).
    pub fn wake_all(&self) {
        for waker in self.wakers.get().into_iter().flatten() {
            let _ = waker.wake();
        }
    }

    /// Asks the event loops to finish their replies and stop.
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::time::ManualClock;

    #[test]
    fn requests_take_the_time_of_the_servers_clock() {
        let queue = Arc::new(LiveQueue::new(16, Duration::from_millis(10)));
        let server = Server::new(
            ServeConfig::default(),
            Db::new(0, 0, 16),
            queue,
            Arc::new(Metrics::new(&[])),
        );
        let clock = Arc::new(ManualClock::new(5_000));
        let server = server.with_clock(clock.clone());
        assert_eq!(server.now_ms(), 5_000);
        clock.set(7_000);
        let mut db = server.lock();
        db.begin(server.now_ms());
        assert_eq!(db.now(), 7_000);
    }
}
