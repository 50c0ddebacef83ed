//! `kvflow serve`: loads the dataflow files, opens the data directory (rebuilding the
//! keyspace from its log), starts the dataflow on a live input and the event loops, and
//! on SIGTERM or SIGINT shuts down in order: stop taking requests, hand every acknowledged
//! write to the dataflow, let it log and process them, checkpoint, exit.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use kvflow::change::time::{Clock, SystemClock};
use kvflow::plan::Plan;
use kvflow::runtime::live_queue::LiveQueue;
use kvflow::runtime::{DurableRun, InputSource, Metrics, RunOptions, run_observed};
use kvflow::server::db::{Db, Versions};
use kvflow::server::resp::Limits;
use kvflow::server::restore::restore_keys;
use kvflow::server::view::{ServeOutputs, ViewDef};
use kvflow::server::{ServeConfig, Server, listen};
use kvflow::sinks::OutputFactory;
use kvflow::sinks::external::ExternalSinks;
use kvflow::sinks::file::{DirOutputs, StdoutOutputs};

use super::CliError;
use crate::args::ServeArgs;

/// Writes waiting for the dataflow before writers are held back.
const QUEUE_CAPACITY: usize = 1 << 20;
/// How often time advances without writes (windows close within this).
const TICK: Duration = Duration::from_millis(100);
/// A server snapshots its shards every this many writes by default. Its snapshots only
/// speed up change streams that start late in the log (recovery replays the log), and
/// writing one of a large keyspace every 100 000 writes, as `kvflow run` does, was measured
/// to raise the p99 from SET to file-sink row from about 4 ms to over 60 ms at 50K sets/s.
const SNAPSHOT_EVERY: u64 = 1_000_000;

pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    let (plan, dataflow_id) = load_plans(&args.files)?;
    let listen_addr = resolve(&args.listen)?;
    check_access(&args, listen_addr)?;
    let files = file_outputs(&args)?;
    let views = view_defs(&args, &plan)?;
    let workers = args.workers.max(1);
    let ids = (dataflow_id, "kvflow serve".to_string());
    let durable = match super::durable::config(&args.durability, ids, &plan, SNAPSHOT_EVERY)? {
        Some(config) => Some(Arc::new(super::durable::opened(DurableRun::prepare_live(
            config, workers, &*files,
        ))?)),
        None => None,
    };
    let start = durable.as_ref().map(|d| d.start()).unwrap_or_default();
    let config = server_config(&args, &views, listen_addr);
    let mut db = Db::new(start.next_seq, start.max_seen, config.change_ring);
    db.versions = args.node_id.as_deref().map(Versions::new);
    if let (Some(dir), Some(durable)) = (&config.data_dir, &durable) {
        restore_keys(&mut db, (dir, durable), start.next_seq).map_err(CliError::File)?;
    }
    let queue = Arc::new(LiveQueue::new(QUEUE_CAPACITY, TICK));
    let names: Vec<String> = plan.pipelines.iter().map(|p| p.name.clone()).collect();
    let metrics = Arc::new(Metrics::new(&names));
    let external = ExternalSinks::new();
    let exporter = super::start_exporter(args.metrics.as_deref(), &plan, &metrics, &external)?;
    // One clock stamps writes (the server) and advances time when writes pause (the feed).
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = Arc::new(
        Server::new(config, db, queue.clone(), metrics.clone())
            .with_clock(clock.clone())
            .with_external(external.clone()),
    );
    if let Some(exporter) = &exporter {
        exporter.watch_server(&server);
        if let Some(dir) = &args.durability.data_dir {
            exporter.watch_data_dir(dir);
        }
    }
    let outputs = Arc::new(ServeOutputs {
        inner: files,
        views,
        server: Arc::downgrade(&server),
    });
    if let Some(progress) = durable.as_ref().and_then(|d| d.log_progress()) {
        server.acknowledge_when_logged(progress.clone());
    }
    let listener = std::net::TcpListener::bind(listen_addr)
        .map_err(|e| CliError::Runtime(format!("cannot listen on {listen_addr}: {e}")))?;
    let options = RunOptions {
        durable,
        workers,
        clock,
        external: Some(external.clone()),
        operator_stats: exporter.as_ref().map(|e| e.operators.clone()),
        observer: exporter.as_ref().map(super::Exporter::observer),
        ..RunOptions::default()
    }
    .batch_ms(args.batch_ms);
    let run_outputs: Arc<dyn OutputFactory> = outputs.clone();
    let plan = Arc::new(plan);
    let run_plan = plan.clone();
    let dataflow = std::thread::Builder::new()
        .name("serve-dataflow".into())
        .spawn(move || {
            run_observed(
                run_plan,
                InputSource::Live(queue),
                options,
                run_outputs,
                metrics,
            )
        })
        .map_err(|e| CliError::Runtime(format!("cannot start the dataflow: {e}")))?;
    let loops = listen::start(server.clone(), listener)
        .map_err(|e| CliError::Runtime(format!("cannot start the event loops: {e}")))?;
    eprintln!("kvflow serve: ready on {listen_addr}");
    wait_for_signal(&dataflow)?;
    server.stop();
    for handle in loops {
        let _ = handle.join();
    }
    server.queue.close();
    let summary = dataflow
        .join()
        .map_err(|_| CliError::Runtime("the dataflow thread panicked".into()))?
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    eprint!("{summary}");
    for line in external.summary(&plan.sinks) {
        eprintln!("{line}");
    }
    Ok(())
}

/// Every file's plan merged into one (see `Plan::merge`); the id is a checksum of all the
/// files' text.
fn load_plans(files: &[std::path::PathBuf]) -> Result<(Plan, String), CliError> {
    let mut plan = Plan::default();
    let mut texts = Vec::new();
    for file in files {
        let loaded = kvflow::dataflow_file::load_file(file)?;
        plan.merge(loaded.plan).map_err(|e| {
            CliError::File(format!(
                "{}: {e}: a name may be defined in only one of the served files",
                file.display()
            ))
        })?;
        texts.extend(std::fs::read(file).unwrap_or_default());
    }
    Ok((plan, format!("{:08x}", crc32c::crc32c(&texts))))
}

fn resolve(listen: &str) -> Result<SocketAddr, CliError> {
    listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| CliError::File(format!("--listen {listen}: not a host:port address")))
}

/// Refuses an empty password, and a non-loopback address without a password unless
/// `--unsafe-no-auth` says so (Redis's protected mode); warns when it does.
fn check_access(args: &ServeArgs, listen: SocketAddr) -> Result<(), CliError> {
    if args.requirepass.as_deref() == Some("") {
        return Err(CliError::File(
            "--requirepass: the password is empty; give a password, or leave the option out \
             to let every client in"
                .into(),
        ));
    }
    if listen.ip().is_loopback() || args.requirepass.is_some() {
        return Ok(());
    }
    if !args.unsafe_no_auth {
        return Err(CliError::File(format!(
            "--listen {listen}: a non-loopback address without --requirepass lets anyone who \
             can reach it read and write every key; give --requirepass, or --unsafe-no-auth \
             to allow it"
        )));
    }
    eprintln!(
        "warning: listening on {listen} without --requirepass (--unsafe-no-auth): anyone who \
         can reach it can read and write every key"
    );
    Ok(())
}

/// `--maxclients`, or Redis's default under the open-file limit; warns when the limit
/// leaves fewer descriptors than the clients asked for.
fn maxclients(args: &ServeArgs) -> usize {
    let open_files = listen::open_files_limit();
    let default = listen::default_maxclients(open_files);
    let Some(wanted) = args.maxclients else {
        return default;
    };
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
    if let Some(limit) = open_files {
        let room = limit.saturating_sub(listen::RESERVED_FDS);
        if wanted > room {
            eprintln!(
                "warning: --maxclients {wanted} is above what the open-file limit ({limit}) \
                 leaves for clients ({room}); clients past that wait until descriptors are \
                 free (raise the limit with `ulimit -n`)"
            );
        }
    }
    wanted
}

/// The run's files (`--output DIR`) or stdout.
fn file_outputs(args: &ServeArgs) -> Result<Arc<dyn OutputFactory>, CliError> {
    Ok(match &args.output {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::File(format!("cannot create {}: {e}", dir.display())))?;
            Arc::new(DirOutputs::new(dir, None))
        }
        None => Arc::new(StdoutOutputs),
    })
}

/// The `--view` pipelines, checked against the plan.
fn view_defs(args: &ServeArgs, plan: &Plan) -> Result<Vec<ViewDef>, CliError> {
    args.view
        .iter()
        .map(|name| ViewDef::for_pipeline(plan, name).map_err(CliError::File))
        .collect()
}

fn server_config(args: &ServeArgs, views: &[ViewDef], listen: SocketAddr) -> ServeConfig {
    let view_prefixes = views.iter().map(|v| v.prefix.clone()).collect();
    ServeConfig {
        listen,
        requirepass: args.requirepass.clone(),
        data_dir: args.durability.data_dir.clone(),
        limits: Limits {
            max_bulk: args.max_bulk_len,
            max_array: args.max_array_len,
            max_query_buffer: args.max_query_buffer,
        },
        idle_timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
        pubsub_limit: args.pubsub_buffer_limit,
        output_limit: args.client_output_limit,
        io_threads: args.io_threads.max(1),
        change_ring: args.change_buffer.max(1),
        view_prefixes,
        maxclients: maxclients(args),
    }
}

/// Returns on SIGTERM or SIGINT, or when the dataflow stopped by itself (a failure).
fn wait_for_signal<T>(dataflow: &std::thread::JoinHandle<T>) -> Result<(), CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| CliError::Runtime(format!("cannot handle signals: {e}")))?;
    loop {
        if signals.pending().next().is_some() || dataflow.is_finished() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
