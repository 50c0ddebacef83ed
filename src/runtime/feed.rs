//! Feeding the input into the dataflow: who reads what, and how it is cut into batches.
//!
//! Results must be a function of the input alone (DESIGN §7), which needs two things: each
//! key's mutations reach its shard in input order, and every batch's timestamp is the same
//! whoever computes it. Files, the generator and in-memory inputs are therefore walked by
//! *every* worker: each one sees every position's `ts` (so all compute the same watermark
//! and the same batch boundaries) and sends on only the mutations it owns, to its own shard:
//! those whose key it owns, and the append-only keys of the chunks it built (no shard keeps
//! those, so any may apply them; see [`chunk::Owners`]).
//!
//! What a worker pays for a position it does not own decides how workers scale, so the
//! input is built once per process into chunks ([`chunk`]): a position is its `seq`, its
//! resolved `ts` and its owner, and each worker's own mutations are apart, handed over by
//! move. The workers build the chunks between them: a file's chunks of lines are parsed by
//! the workers in turn ([`shared_file`]), in-memory mutations likewise
//! ([`shared_memory`]), and the generator's sequential stream by whichever worker needs
//! the next chunk first ([`shared_generator`]). A worker then walks a foreign position
//! with one comparison and the timeline's step, and never parses, hashes, clones or drops
//! a mutation it does not own.
//!
//! Decision: the workers of one process walk every position and agree on batches without
//! any exchange; splitting a file among processes as well would need each line's position
//! and a per-batch exchange of the shares' largest `ts` to agree on the watermark, and is
//! left for when a cluster's processes are the bottleneck. Measured: in a `perf record` of
//! `kvflow bench dataflows/nexmark/q2.sql --workload nexmark --events 1000000 -w 2`, the
//! walk (`walk_chunk`, `feed_position`, which also send the worker's own events) holds
//! about 9% of the workers' samples.
//!
//! Stdin can only be read once, so there worker 0 reads everything and the exchange routes
//! each mutation to its owner; the other workers close their inputs at once.
//!
//! Batches follow `change::time::Timeline`: a batch closes once the watermark moved
//! `batch_ms` past its stamp and, for an input with a backlog, once it holds `batch_events`
//! events. A round of progress tracking costs the same for 40 events as for 5 000, so a
//! file, the generator or stdin is cut by volume as well as by event time; a live input
//! (`serve`) is cut by event time alone, so a write's rows appear as soon as its time closes.
//! Decision: stdin is cut like a file (a piped file gives the file's output byte for byte,
//! which no rule that looks at arrival could promise); a live producer on stdin that wants
//! each time's rows at once runs with `--batch-events 0`, as `run --help` says.
//! Both rules are functions of the input order and the flags alone: every worker observes
//! every event (or the one reader does), so all cut at the same events with the same stamps,
//! and a resumed run cuts where the first did (its checkpoint is at a boundary). Which batch
//! an event falls in decides only when rows appear and how a changelog consolidates, never
//! which windowed rows, late rows or final states there are (see `change::time`).
//!
//! Up to [`BATCHES_IN_FLIGHT`] batches may be unfinished while the next one is filled, so
//! the workers never idle waiting for each other between batches, and memory stays bounded
//! however long the input.
//!
//! A replay sends each logged mutation at its logged stamp (the batches of the run that
//! wrote the log), so its batches need no agreement at all, and the logs are split among
//! the workers: shard `k`'s log is read by worker `k % workers`, which sends each record on
//! to its key's owner. A kept key's mutations are all in one shard's log, in order, so they
//! reach their owner in order from one reader; an append-only key is kept by no shard.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

pub mod chunk;
mod live;
pub mod shared_file;
pub mod shared_generator;
mod shared_memory;
mod stdin;

use super::durable::FeedPosition;
use super::observe::FrontierWatch;
use super::{Metrics, RunError, RunOptions};
use crate::change::Mutation;
use crate::change::time::Timeline;
use crate::plan::Plan;
use crate::sinks::OutputFactory;
use crate::source::jsonl::LineError;
use crate::store::data_dir::History;
use crate::store::shard::{AppendOnlyKeys, ROUTE_BY_KEY};
use crate::store::{Ingest, owner_of};
use crate::workload::{GenConfig, Workload, generate};
use chunk::{BAD_LINE, ChunkSource, Next, Owned, Owners, WalkChunk};
use shared_file::SharedFile;
use shared_generator::SharedGenerator;
use shared_memory::SharedMemory;

/// Where a run's mutations come from.
pub enum InputSource {
    /// Pre-generated mutations, shared by the process's workers.
    Memory(Arc<Vec<Mutation>>),
    /// A JSON Lines file.
    Jsonl(PathBuf),
    /// JSON Lines on stdin.
    Stdin,
    /// The built-in generator.
    Generate {
        workload: Workload,
        config: GenConfig,
    },
    /// The logged history of a data directory, at its logged batch stamps (replay).
    Logged(PathBuf),
    /// Writes handed over by a server while the run goes on (`kvflow serve`).
    Live(Arc<super::live_queue::LiveQueue>),
}

/// A process's input, with what its workers share of it.
pub struct ProcessInput {
    pub source: InputSource,
    /// A file's chunks, parsed by the workers in turn (opened by the first to ask).
    shared_file: OnceLock<Result<SharedFile, String>>,
    /// The generator's chunks, built by the workers as they need them.
    shared_generator: OnceLock<SharedGenerator>,
    /// In-memory mutations' chunks, built by the workers in turn.
    shared_memory: OnceLock<SharedMemory>,
}

impl ProcessInput {
    pub fn new(source: InputSource) -> ProcessInput {
        ProcessInput {
            source,
            shared_file: OnceLock::new(),
            shared_generator: OnceLock::new(),
            shared_memory: OnceLock::new(),
        }
    }

    fn shared_file(
        &self,
        path: &Path,
        owners: Owners,
        options: &RunOptions,
    ) -> Result<&SharedFile, RunError> {
        let opened = self.shared_file.get_or_init(|| {
            SharedFile::open(path, owners, options.clock.clone()).map_err(|e| e.to_string())
        });
        opened.as_ref().map_err(|message| RunError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(message.clone()),
        })
    }

    fn shared_generator(
        &self,
        (workload, config): (&Workload, &GenConfig),
        owners: Owners,
        options: &RunOptions,
    ) -> &SharedGenerator {
        self.shared_generator.get_or_init(|| {
            SharedGenerator::new(generate(workload, config), owners, options.clock.clone())
        })
    }
}

/// What to do with a line that is not a valid mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadInputPolicy {
    /// Stop the run with the file and line number.
    Fail,
    /// Write it to the bad-input output with its line number, count it, go on.
    Skip,
}

/// Batches sent and not yet processed everywhere while the next one is filled (see
/// `runtime::DEFAULT_BATCH_EVENTS` for how it was chosen).
pub const BATCHES_IN_FLIGHT: usize = 8;

type InputHandleOf = InputHandle<u64, CapacityContainerBuilder<Vec<Ingest>>>;

/// One item of input: the mutation's sequence number (line number for files) and itself.
type Item<'a> = Result<(u64, Cow<'a, Mutation>), LineError>;

struct Feeder<'w, 'h> {
    worker: &'w mut Worker,
    handle: &'h mut InputHandleOf,
    probe: &'w ProbeHandle<u64>,
    timeline: Timeline,
    options: &'w RunOptions,
    metrics: &'w Metrics,
    outputs: &'w dyn OutputFactory,
    /// Positions before this were covered by the checkpoint resumed from.
    skip_before: u64,
    since_checkpoint: u64,
    last_seq: Option<u64>,
    /// This worker reports shared counts (events in, bad lines) for its process.
    reports: bool,
    /// `Some(index)` when only owned keys are sent (every worker reads everything).
    owner_index: Option<usize>,
    source_name: String,
    /// Reports batches and the outputs' frontier when the run is observed.
    watch: Option<&'w mut FrontierWatch>,
    /// Stamps of the batches sent, oldest first, not yet known to be processed.
    in_flight: std::collections::VecDeque<u64>,
    /// The keys the store keeps none of (the plan's).
    append_only: Option<AppendOnlyKeys>,
}

/// Feeds this worker's part of `input`, then returns (the caller closes the input).
/// With a data directory, each worker first replays its own shard's logged history and then
/// resumes the input after the checkpoint (see `runtime::durable`).
#[allow(clippy::too_many_arguments)]
pub(super) fn feed_worker(
    worker: &mut Worker,
    handle: &mut InputHandleOf,
    probe: &ProbeHandle<u64>,
    (plan, input): (&Plan, &ProcessInput),
    options: &RunOptions,
    (metrics, outputs): (&Metrics, &dyn OutputFactory),
    watch: Option<&mut FrontierWatch>,
) -> Result<(), RunError> {
    let index = worker.index();
    let peers = worker.peers();
    let reports = index.is_multiple_of(options.workers.max(1));
    let start = options
        .durable
        .as_ref()
        .map(|d| d.start())
        .unwrap_or_default();
    let lag = plan.watermark_lag();
    let mut feeder = Feeder {
        worker,
        handle,
        probe,
        timeline: Timeline::new(lag, options.batch_ms)
            .with_batch_events(backlog_batch_events(&input.source, options))
            .resume(start.max_seen, start.stamp),
        options,
        metrics,
        outputs,
        skip_before: start.next_seq,
        since_checkpoint: 0,
        last_seq: None,
        reports,
        // With one worker everything is owned: skip hashing every key.
        owner_index: (peers > 1).then_some(index),
        source_name: String::new(),
        watch,
        in_flight: Default::default(),
        append_only: plan.append_only_keys.clone(),
    };
    let local = index % options.workers.max(1);
    if let Some(durable) = options.durable.as_deref() {
        let until = feeder.skip_before;
        feeder.send_history(durable.shard_history(local)?, until)?;
        if start.stamp > *feeder.handle.time() {
            feeder.handle.advance_to(start.stamp);
        }
    }
    let fed = feeder.feed_input(input);
    if let (Some(durable), 0, Ok(())) = (options.durable.as_deref(), local, &fed) {
        durable.set_end(FeedPosition {
            next_seq: feeder.last_seq.map_or(start.next_seq, |s| s + 1),
            max_seen: feeder.timeline.max_seen(),
            stamp: feeder.timeline.stamp(),
        });
    }
    fed
}

/// The events a batch of `input` holds at least: `batch_events` for an input with a backlog,
/// none for a live one.
fn backlog_batch_events(input: &InputSource, options: &RunOptions) -> u64 {
    match input {
        InputSource::Live(_) => 0,
        _ => options.batch_events,
    }
}

impl Feeder<'_, '_> {
    fn feed_input(&mut self, input: &ProcessInput) -> Result<(), RunError> {
        let index = self.worker.index();
        let feeder = self;
        match &input.source {
            InputSource::Memory(mutations) => {
                feeder.source_name = "memory".into();
                let owners = feeder.owners();
                let clock = feeder.options.clock.clone();
                let memory = input
                    .shared_memory
                    .get_or_init(|| SharedMemory::new(mutations.clone(), owners, clock));
                feeder.feed_chunks(memory)
            }
            InputSource::Jsonl(path) => {
                feeder.source_name = path.display().to_string();
                let owners = feeder.owners();
                feeder.feed_chunks(input.shared_file(path, owners, feeder.options)?)
            }
            InputSource::Stdin => {
                if index != 0 {
                    return Ok(());
                }
                feeder.source_name = "<stdin>".into();
                feeder.owner_index = None;
                feeder.feed_stdin()
            }
            InputSource::Logged(dir) => {
                let history = History::open_share(dir, index, feeder.worker.peers())
                    .map_err(|e| RunError::Durable(e.to_string()))?;
                feeder.owner_index = None;
                feeder.replay_history(history)
            }
            InputSource::Live(queue) => feeder.feed_live(queue),
            InputSource::Generate { workload, config } => {
                feeder.source_name = format!("generator {}", workload.name());
                let owners = feeder.owners();
                let generator = input.shared_generator((workload, config), owners, feeder.options);
                feeder.feed_chunks(generator)
            }
        }
    }

    /// Sends a data directory's whole history (a replay), counting the events and the log
    /// bytes read as it goes.
    fn replay_history(&mut self, history: History) -> Result<(), RunError> {
        let (loaded, _) = history.progress();
        let metrics = self.metrics;
        let (mut counted, mut counted_bytes) = (0, 0);
        // NB: each worker reads its share of the logs, so each adds what it read.
        let mut report = |sent: u64, time: u64| {
            metrics
                .events_in
                .fetch_add(sent - counted, Ordering::Relaxed);
            counted = sent;
            let read = loaded.load(Ordering::Relaxed);
            metrics
                .bytes_in
                .fetch_add(read.saturating_sub(counted_bytes), Ordering::Relaxed);
            counted_bytes = counted_bytes.max(read);
            metrics.watermark_ms.fetch_max(time, Ordering::Relaxed);
        };
        let sent = self.send_history_reporting(history, u64::MAX, &mut report)?;
        report(sent, *self.handle.time());
        Ok(())
    }

    fn send_history(&mut self, history: History, until: u64) -> Result<u64, RunError> {
        self.send_history_reporting(history, until, &mut |_, _| {})
    }

    /// Sends logged history before seq `until` at its logged batch stamps (each worker its
    /// own shard's, in a resumed run; its share of the shards', in a replay); returns how many
    /// mutations it sent. The logged stamps are the batches of the run that wrote the log,
    /// cut by volume while it had a backlog, and are kept: a replay's `--from`, `--since` and
    /// raw times name them.
    /// `report` is told how many it has sent, and the time they were sent at, at each step of
    /// the worker.
    fn send_history_reporting(
        &mut self,
        history: History,
        until: u64,
        report: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, RunError> {
        let mut previous = *self.handle.time();
        let mut since_step = 0usize;
        let mut sent = 0;
        for item in history {
            let (_, record) = item.map_err(|e| RunError::Durable(e.to_string()))?;
            if record.seq >= until {
                break;
            }
            if record.time > *self.handle.time() {
                self.check_outputs()?;
                self.handle.advance_to(record.time);
                self.limit_in_flight(previous);
                previous = record.time;
            }
            let mut ingest = record.to_ingest();
            ingest.route = self.route();
            self.handle.send(ingest);
            sent += 1;
            since_step += 1;
            if since_step >= 4096 {
                since_step = 0;
                report(sent, *self.handle.time());
                self.worker.step();
            }
        }
        Ok(sent)
    }

    /// At a batch boundary (the input just advanced to `stamp`): the first worker of each
    /// process of a durable run takes its process's checkpoint when one is due, once every
    /// time before `stamp` is done.
    fn at_batch_boundary(&mut self, position: FeedPosition, stamp: u64) -> Result<bool, RunError> {
        let Some(durable) = self.options.durable.as_deref() else {
            return Ok(false);
        };
        let local = self.worker.index() % self.options.workers.max(1);
        if local != 0 || self.since_checkpoint < durable.checkpoint_every() {
            return Ok(false);
        }
        self.since_checkpoint = 0;
        self.wait_until_processed(stamp);
        match durable.checkpoint(position, Some(stamp), self.outputs) {
            // NB: a server's log holds every write it acknowledged; a checkpoint it cannot
            // write (a full disk) is taken again at the next one due, and the server stays up.
            Err(error) if durable.is_live() => {
                eprintln!("warning: checkpoint not written, retried later: {error}");
            }
            result => result?,
        }
        Ok(true)
    }
}

/// Where a feed stands between items.
struct Cursor {
    since_step: usize,
    previous_stamp: u64,
}

impl Cursor {
    fn new(stamp: u64) -> Cursor {
        Cursor {
            since_step: 0,
            previous_stamp: stamp,
        }
    }
}

impl Feeder<'_, '_> {
    /// This worker's local index, and which workers own keys.
    fn owners(&self) -> Owners {
        let locals = self.options.workers.max(1);
        let index = self.worker.index();
        Owners {
            peers: self.worker.peers(),
            first_local: index - index % locals,
            locals,
            append_only: self.append_only.clone(),
        }
    }

    /// Feeds an input built into chunks by this process's workers (a file, the generator,
    /// mutations in memory): walks every chunk's positions and sends the mutations this
    /// worker owns.
    fn feed_chunks<S: ChunkSource>(&mut self, source: &S) -> Result<(), RunError> {
        let local = self.worker.index() % self.options.workers.max(1);
        let mut cursor = Cursor::new(self.timeline.stamp());
        let mut index = 0;
        loop {
            let chunk = match source.next_chunk(index, local).map_err(worker_failed)? {
                Next::Ready(chunk) => chunk,
                Next::Wait => {
                    self.wait_step();
                    continue;
                }
                Next::End => return Ok(()),
            };
            if let Some(walk) = chunk.walk() {
                self.walk_chunk(walk, source.owned(walk, local), &mut cursor)?;
            }
            source.done_with(&chunk);
            if self.reports
                && let Some(read) = source.bytes_read().map_err(worker_failed)?
            {
                self.metrics.bytes_in.fetch_max(read, Ordering::Relaxed);
            }
            index += 1;
        }
    }

    /// Walks a chunk's positions in order, sending the mutations this worker owns (`owned`).
    fn walk_chunk(
        &mut self,
        chunk: &WalkChunk,
        mut owned: Owned<'_>,
        cursor: &mut Cursor,
    ) -> Result<(), RunError> {
        let me = self.worker.index() as u32;
        let mut errors = chunk.errors.iter();
        for position in &chunk.positions {
            if position.owner == BAD_LINE {
                if let Some(error) = errors.next() {
                    self.feed_one(Err(error.clone()), cursor)?;
                }
                continue;
            }
            let mutation = match position.owner == me {
                true => owned.at(position),
                false => None,
            };
            self.feed_position((position.seq, position.ts), mutation, cursor)?;
        }
        Ok(())
    }

    fn feed_one(&mut self, item: Item<'_>, cursor: &mut Cursor) -> Result<(), RunError> {
        let (seq, mutation) = match item {
            Ok(item) => item,
            Err(error) if error.line < self.skip_before => return Ok(()),
            Err(error) => return self.bad_line(error),
        };
        let ts = mutation.ts.unwrap_or_else(|| self.options.clock.now_ms());
        let owned = self
            .owner_index
            .is_none_or(|index| owner_of(&mutation.key, self.worker.peers()) == index);
        self.feed_position((seq, ts), owned.then_some(mutation), cursor)
    }

    /// Walks one position of the input: observes its time (cutting a batch when it closes
    /// one) and sends its mutation when this worker owns it (`Some`).
    fn feed_position(
        &mut self,
        (seq, ts): (u64, u64),
        mutation: Option<Cow<'_, Mutation>>,
        cursor: &mut Cursor,
    ) -> Result<(), RunError> {
        if seq < self.skip_before {
            return Ok(());
        }
        self.refuse_after_completion(seq)?;
        let observed = self.timeline.observe(ts);
        if let Some(stamp) = observed.new_batch {
            self.check_outputs()?;
            self.handle.advance_to(stamp);
            let position = FeedPosition {
                next_seq: seq,
                max_seen: observed.max_seen_before,
                stamp: cursor.previous_stamp,
            };
            if !self.at_batch_boundary(position, stamp)? {
                self.limit_in_flight(cursor.previous_stamp);
            }
            cursor.previous_stamp = stamp;
            if self.reports {
                self.metrics
                    .note_batch(stamp, observed.max_seen_before.max(ts));
            }
            if let Some(watch) = &self.watch {
                watch.batch_opened(stamp, seq);
            }
        }
        // NB: counted once its batch is open, so the batch's size counts it.
        if self.reports {
            self.metrics.events_in.fetch_add(1, Ordering::Relaxed);
        }
        self.last_seq = Some(seq);
        self.since_checkpoint += 1;
        if let Some(mutation) = mutation {
            self.handle.send(Ingest {
                seq,
                max_seen: observed.max_seen_before,
                ts,
                mutation: mutation.into_owned(),
                route: self.route(),
            });
        }
        cursor.since_step += 1;
        if cursor.since_step >= 4096 {
            cursor.since_step = 0;
            self.step();
        }
        Ok(())
    }

    /// Where this worker's ingests go: to its own shard when it sends only what it owns (a
    /// key it owns, an append-only key its chunk gave it, its own shard's history), else to
    /// each key's owner.
    fn route(&self) -> u32 {
        match self.owner_index {
            Some(index) => index as u32,
            None => ROUTE_BY_KEY,
        }
    }

    /// A run whose checkpoint says it completed takes no more input.
    fn refuse_after_completion(&self, seq: u64) -> Result<(), RunError> {
        match self.options.durable.as_deref() {
            Some(durable) if durable.completed() => Err(RunError::Durable(format!(
                "the run in {} completed before position {seq} of its input, which has grown \
                 since: start a new data directory for the longer input",
                durable.dir().display()
            ))),
            _ => Ok(()),
        }
    }

    /// Stops the run once an output could not be written (see `sinks::file`).
    fn check_outputs(&self) -> Result<(), RunError> {
        match self.outputs.failure() {
            Some(message) => Err(RunError::Output(message)),
            None => Ok(()),
        }
    }

    /// Notes that the batch stamped `stamp` was sent, then waits until at most
    /// [`BATCHES_IN_FLIGHT`] sent batches are unfinished.
    fn limit_in_flight(&mut self, stamp: u64) {
        self.in_flight.push_back(stamp);
        while self.in_flight.len() > BATCHES_IN_FLIGHT {
            if let Some(oldest) = self.in_flight.pop_front() {
                // The batch stamped `oldest` is done once the frontier passed the next stamp.
                let next = self.in_flight.front().copied().unwrap_or(oldest);
                self.wait_until_processed(next);
            }
        }
    }

    /// Steps the worker until every time before `stamp` is done everywhere, parking briefly
    /// whenever there is nothing to do (see [`Self::wait_step`]).
    ///
    /// NB: a worker that waited by stepping spun on its core while the other worker finished
    /// its share. Under callgrind (`window_counts.toml`, 200 000 lines of a keyed stream, two
    /// workers) the two worker threads ran 26.1 G and 38.6 G instructions spinning, against
    /// 2.18 G for one worker alone; parked, 1.15 G and 1.21 G. On two cores shared with other
    /// processes a spinning worker holds a core the other needs: two workers over 2 000 000
    /// lines took 2.45 s against 2.65 s (means of six alternating runs).
    fn wait_until_processed(&mut self, stamp: u64) {
        while self.probe.less_than(&stamp) {
            self.wait_step();
        }
    }

    /// Steps the dataflow while waiting for another worker (to parse a chunk, or to finish a
    /// batch): parks briefly when there is nothing to do instead of spinning on a core the
    /// other worker needs. A message from another worker wakes a parked worker at once.
    fn wait_step(&mut self) {
        self.worker
            .step_or_park(Some(std::time::Duration::from_micros(50)));
        self.after_step();
    }

    /// One worker step, then a look at the outputs' frontier when the run is observed.
    fn step(&mut self) {
        self.worker.step();
        self.after_step();
    }

    fn after_step(&mut self) {
        if let Some(watch) = self.watch.as_deref_mut() {
            watch.check(self.probe);
        }
        // NB: a worker flushes only its own timely log per step; the operators' figures
        // (`--metrics`) also come from differential's, which would wait for a full buffer.
        if self.options.operator_stats.is_some()
            && let Some(mut registry) = self.worker.log_register()
        {
            registry.flush();
        }
    }

    fn bad_line(&mut self, error: LineError) -> Result<(), RunError> {
        match self.options.on_bad_input {
            BadInputPolicy::Fail => Err(RunError::BadInput {
                file: self.source_name.clone(),
                line: error.line,
                message: error.message,
            }),
            BadInputPolicy::Skip => {
                if self.reports {
                    self.metrics.bad_lines.fetch_add(1, Ordering::Relaxed);
                    if let Some(sink) = &self.options.bad_input {
                        let mut line = String::new();
                        error.write_json(&mut line);
                        sink.write(&line);
                    }
                }
                Ok(())
            }
        }
    }
}

/// A worker that panicked while it held the shared input leaves it poisoned: the run fails
/// rather than treat the rest of the input as absent.
fn worker_failed(_: chunk::Poisoned) -> RunError {
    RunError::Worker("another worker failed while reading the input".to_string())
}
