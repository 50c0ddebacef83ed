//! Raw command-line arguments (clap derive). Validation into a run happens in `commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kvflow",
    version,
    about = "A key-value store whose every change flows through timely/differential dataflows."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every pipeline of a dataflow file.
    #[command(
        after_help = "Examples:\n  kvflow run dataflows/quickstart.toml\n  kvflow run dataflows/window_counts.toml --input dataflows/window_counts.input.jsonl --output out/ -w 4\n  kvflow generate users-orders --events 10000 --seed 1 | kvflow run dataflows/orders_join.toml --input -\n  kvflow run FILE -n 2 -p 0 -H hosts.txt   (and -p 1 on the other process)"
    )]
    Run(RunArgs),
    /// Validate a dataflow file without running it.
    #[command(
        after_help = "Examples:\n  kvflow check dataflows/window_counts.toml\n  kvflow check dataflows/nexmark/q5.sql"
    )]
    Check { file: PathBuf },
    /// Print the plan of a dataflow file.
    #[command(
        after_help = "Examples:\n  kvflow explain dataflows/orders_join.toml\n  kvflow explain dataflows/orders_join.toml --mermaid"
    )]
    Explain {
        file: PathBuf,
        /// Print a Mermaid flowchart instead of text.
        #[arg(long)]
        mermaid: bool,
    },
    /// Write a deterministic mutation stream as JSON Lines.
    #[command(
        after_help = "Examples:\n  kvflow generate users-orders --events 10000 --seed 7 > input.jsonl\n  kvflow generate zipf --events 1000000 --keys 10000 --skew 1.2 --disorder-ms 200 -o zipf.jsonl\n  kvflow generate keyed-stream --events 2000000 --keys 1000000 --rate-per-sec 400 --disorder-ms 200 -o stream.jsonl"
    )]
    Generate(GenerateArgs),
    /// Measure a dataflow file over a pre-generated workload: throughput, latency, memory.
    #[command(
        after_help = "Examples:\n  kvflow bench dataflows/nexmark/q0.toml --workload nexmark --events 1000000 -w 1,2 --repeat 3 --out bench/q0\n  kvflow bench dataflows/zipf_windows.toml --workload zipf --keys 10000 --skew 1.2 --events 500000"
    )]
    Bench(BenchArgs),
    /// Print a data directory's change events as JSON Lines, each with its resume token.
    #[command(
        after_help = "Examples:\n  kvflow watch --data-dir data/\n  kvflow watch --data-dir data/ --from 0:1234 --kinds update,delete --keys '^user_'\n  kvflow watch --data-dir serve-data/ --follow   (while kvflow serve writes serve-data/)"
    )]
    Watch(WatchArgs),
    /// Serve the Redis protocol; every write feeds the dataflows of the given files.
    #[command(
        after_help = "Examples:\n  kvflow serve dataflows/serve/orders.toml --output out/ --view orders_per_user\n  kvflow serve --listen 127.0.0.1:7379 --data-dir serve-data/ dataflows/serve/orders.toml\n  redis-cli -p 7379 SET order:1 '{\"user\":\"u1\",\"amount\":5}'"
    )]
    Serve(ServeArgs),
    /// Run a dataflow file over a data directory's stored history.
    #[command(
        after_help = "Example:\n  kvflow replay --data-dir data/ dataflows/window_counts.toml --output replayed/"
    )]
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The dataflow file (`.toml`, or `.sql` for an SQL file).
    pub file: PathBuf,
    /// The workload: uniform, zipf, users-orders, nexmark or keyed-stream.
    #[arg(long)]
    pub workload: String,
    #[command(flatten)]
    pub generator: GenOptions,
    /// Worker counts to measure, e.g. 1,2,4.
    #[arg(short = 'w', long, value_delimiter = ',', default_value = "1")]
    pub workers: Vec<usize>,
    /// Measured runs per worker count.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Directory for results.jsonl, results.csv, runs.jsonl and the plots.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Start a new batch (timely time) when the watermark moved this many ms.
    #[arg(long, default_value_t = 100)]
    pub batch_ms: u64,
    /// A batch also holds at least this many events, so its fixed cost is paid per N
    /// events. Windowed rows, late rows and final states do not depend on it; a changelog
    /// shows fewer steps. 0 cuts by event time alone: use it when a live producer writes to
    /// stdin and each time's rows are wanted at once.
    #[arg(long, default_value_t = kvflow::runtime::DEFAULT_BATCH_EVENTS)]
    pub batch_events: u64,
    /// Serve each measured run's metrics and dashboard at http://ADDR/ while it goes on, to
    /// watch a run or measure what serving metrics costs (ADDR is HOST:PORT, or a port on
    /// 127.0.0.1; off unless given).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Internal: measure one run with this many workers and print it as JSON.
    #[arg(long, hide = true)]
    pub child_run: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Resume after this token (<shard>:<seq>, as printed with each event).
    #[arg(long, conflicts_with = "since")]
    pub from: Option<String>,
    /// Only events whose event time (ms) is at least this.
    #[arg(long)]
    pub since: Option<u64>,
    /// Comma-separated kinds to show: insert, update, delete.
    #[arg(long)]
    pub kinds: Option<String>,
    /// Only keys matching this regular expression.
    #[arg(long)]
    pub keys: Option<String>,
    /// Keep printing changes as they are logged (a data directory that a running `run` or
    /// `serve` writes) until interrupted (SIGINT, SIGTERM) or the output is closed.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Dataflow files whose pipelines run on the server's writes.
    pub files: Vec<PathBuf>,
    /// Address to listen on (a non-loopback address needs --requirepass, or
    /// --unsafe-no-auth).
    #[arg(long, default_value = "127.0.0.1:7379")]
    pub listen: String,
    /// Listen on a non-loopback address without --requirepass: anyone who can reach the
    /// port can read and write every key (Redis's `protected-mode no`).
    #[arg(long)]
    pub unsafe_no_auth: bool,
    /// Dataflow worker threads.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Event-loop threads for client connections.
    #[arg(long, default_value_t = 1)]
    pub io_threads: usize,
    /// Clients must AUTH with this password.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Write DIR/<pipeline>.jsonl instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Keep a pipeline's rows as keys view:<pipeline>:<group> (repeatable).
    #[arg(long)]
    pub view: Vec<String>,
    /// This node's id when it syncs with other kvflow nodes: changes they send
    /// (`KVFLOW.APPLY`) are applied last-writer-wins on (ts, origin) against its own writes.
    #[arg(long)]
    pub node_id: Option<String>,
    /// Start a new batch (timely time) when the clock moved this many ms.
    #[arg(long, default_value_t = 1)]
    pub batch_ms: u64,
    /// Serve the run's metrics at http://ADDR/metrics in the Prometheus text format
    /// (ADDR is HOST:PORT, or a port on 127.0.0.1; off unless given).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Close connections idle this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
    /// Largest bulk string a client may send, in bytes.
    #[arg(long, default_value_t = 512 << 20)]
    pub max_bulk_len: usize,
    /// Most arguments in one request.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_array_len: usize,
    /// Most unparsed bytes buffered per client.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_query_buffer: usize,
    /// Most bytes of unread pub/sub messages per subscriber before it is disconnected.
    #[arg(long, default_value_t = 32 << 20)]
    pub pubsub_buffer_limit: usize,
    /// Most bytes of unwritten replies per client before it is disconnected.
    #[arg(long, default_value_t = 1 << 30)]
    pub client_output_limit: usize,
    /// Recent changes kept in memory for XREAD.
    #[arg(long, default_value_t = 100_000)]
    pub change_buffer: usize,
    /// Most clients at once; one more is answered "max number of clients reached" and
    /// closed [default: 10000, or the open-file limit less 32 when lower].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub maxclients: Option<u64>,
    #[command(flatten)]
    pub durability: DurabilityArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The dataflow file (`.toml`, or `.sql` for an SQL file).
    pub file: PathBuf,
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Write DIR/<pipeline>.jsonl instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// On stdout, print only this pipeline's lines.
    #[arg(long, conflicts_with = "output")]
    pub pipeline: Option<String>,
    /// Worker threads.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Write only what the live run wrote from the batch of the first change after this
    /// resume token (<shard>:<seq>) on.
    #[arg(long, conflicts_with = "since")]
    pub from: Option<String>,
    /// Write only what the live run wrote from the batch of the first change whose event
    /// time (ms) is at least this on.
    #[arg(long)]
    pub since: Option<u64>,
    /// Write rows in the raw differential form: {"diff":..,"time":..,<row>}.
    #[arg(long)]
    pub raw: bool,
    /// Serve the run's metrics at http://ADDR/metrics in the Prometheus text format
    /// (ADDR is HOST:PORT, or a port on 127.0.0.1; off unless given).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The dataflow file (`.toml`, or `.sql` for an SQL file).
    pub file: PathBuf,
    /// Mutations as JSON Lines; `-` reads stdin.
    #[arg(long, conflicts_with = "generate")]
    pub input: Option<String>,
    /// Use the built-in generator: uniform, zipf, users-orders, nexmark, keyed-stream.
    #[arg(long)]
    pub generate: Option<String>,
    #[command(flatten)]
    pub generator: GenOptions,
    /// Write DIR/<pipeline>.jsonl (and .late/.errors/.final) instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// On stdout, print only this pipeline's lines.
    #[arg(long, conflicts_with = "output")]
    pub pipeline: Option<String>,
    /// Worker threads per process.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Number of processes in a cluster.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub processes: usize,
    /// This process's index in the cluster.
    #[arg(short = 'p', long, default_value_t = 0)]
    pub process: usize,
    /// Hostfile: one host:port per process (default 127.0.0.1:2101, :2102, ...).
    #[arg(short = 'H', long)]
    pub hostfile: Option<PathBuf>,
    /// Start a new batch (timely time) when the watermark moved this many ms.
    #[arg(long, default_value_t = 100)]
    pub batch_ms: u64,
    /// A batch also holds at least this many events, so its fixed cost is paid per N
    /// events. Windowed rows, late rows and final states do not depend on it; a changelog
    /// shows fewer steps. 0 cuts by event time alone: use it when a live producer writes to
    /// stdin and each time's rows are wanted at once.
    #[arg(long, default_value_t = kvflow::runtime::DEFAULT_BATCH_EVENTS)]
    pub batch_events: u64,
    /// What to do with a line that is not a valid mutation.
    #[arg(long, value_enum, default_value_t = OnBadInput::Fail)]
    pub on_bad_input: OnBadInput,
    /// Write rows in the raw differential form: {"diff":..,"time":..,<row>}.
    #[arg(long)]
    pub raw: bool,
    /// Serve the run's metrics at http://ADDR/metrics in the Prometheus text format
    /// (ADDR is HOST:PORT, or a port on 127.0.0.1; off unless given).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    #[command(flatten)]
    pub durability: DurabilityArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBadInput {
    Fail,
    Skip,
}

#[derive(Debug, Default, clap::Args)]
pub struct GenOptions {
    /// How many mutations to generate.
    #[arg(long)]
    pub events: Option<u64>,
    /// Generator seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Maximum out-of-orderness of generated event times, in ms.
    #[arg(long)]
    pub disorder_ms: Option<u64>,
    /// Events per second of event time [default: 10000].
    #[arg(long)]
    pub rate_per_sec: Option<u64>,
    /// Key space size (uniform, zipf, keyed-stream).
    #[arg(long)]
    pub keys: Option<u64>,
    /// Zipf skew.
    #[arg(long)]
    pub skew: Option<f64>,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// uniform, zipf, users-orders, nexmark or keyed-stream.
    pub workload: String,
    #[command(flatten)]
    pub generator: GenOptions,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub out: Option<PathBuf>,
}

/// Durable runs: `--data-dir` and its options.
#[derive(Debug, Default, clap::Args)]
pub struct DurabilityArgs {
    /// Log every shard to DIR, checkpoint, and resume from DIR after a crash.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// WAL fsync policy: always, never or interval:<ms>. `serve` answers a write once it is
    /// logged under this policy (always: synced; otherwise written to the OS).
    #[arg(long, default_value = "interval:10")]
    pub fsync: String,
    /// Truncate a corrupt log at its last good record instead of refusing to start.
    #[arg(long)]
    pub repair: bool,
    /// Snapshot each shard every N logged mutations [default: 100000; serve: 1000000].
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    /// Checkpoint at the first batch boundary N input positions after the last one.
    #[arg(long, default_value_t = 50_000)]
    pub checkpoint_every: u64,
    /// Cut log segments last written longer ago than this (e.g. 12h, 7d), as far as the
    /// dataflow allows (see "Retention" in README.md).
    #[arg(long, value_parser = kvflow::runtime::durable::retention::parse_age)]
    pub retain_age: Option<std::time::Duration>,
    /// Cut the oldest log segments while a shard's log is larger than this (e.g. 512MiB).
    #[arg(long, value_parser = kvflow::runtime::durable::retention::parse_size)]
    pub retain_bytes: Option<u64>,
    /// Start a new log segment once the current one is this long (retention cuts whole
    /// segments).
    #[arg(long, default_value = "64MiB", value_parser = kvflow::runtime::durable::retention::parse_size)]
    pub segment_bytes: u64,
}
