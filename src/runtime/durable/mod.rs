//! Durable runs (`kvflow run --data-dir`): logging, checkpoints, restart by replay.
//!
//! Decisions:
//! - **Where the input resumes.** `seq` is the mutation's position in its source (the line
//!   number of a file, the index of a generated event), so it increases along the input and
//!   across restarts of the same input. The checkpoint records `next_seq`, the first position
//!   not covered, and the input's identity (see [`DurableConfig::input_id`]); a restarted run
//!   with the same input skips everything before `next_seq` and goes on. A file that grew
//!   since an unfinished run continues with the new lines at their line numbers. A run
//!   whose checkpoint says it completed only replays: more input afterwards is refused
//!   (its end-of-input results were final), and so is a different input or dataflow file —
//!   start a new data directory, or use `kvflow replay` for another dataflow.
//! - **Restart.** Each shard's log is cut back to `next_seq` (records past the checkpoint
//!   come again from the input), worker 0 replays the merged history at the logged batch
//!   stamps — the same timely times as live, so every operator rebuilds the same state — and
//!   sinks suppress every time before the checkpoint's frontier, whose output the files,
//!   truncated to their recorded lengths, already hold. Output is then byte-for-byte what
//!   an uninterrupted run writes (with one worker; with more, lines within a time may
//!   interleave differently, as in any run).
//! - **Durable outputs need `--output DIR`**: stdout cannot be truncated, so there only
//!   suppression applies and lines written after the last checkpoint may repeat.
//! - **Clusters**: each process keeps its own data directory with the shards of its workers
//!   (shard k is local worker k), replays them, and checkpoints them with its own outputs;
//!   each worker replays its own shard. Processes may resume from checkpoints at different
//!   positions: each re-reads the input from its own, and everything else is recomputed by
//!   the same deterministic dataflow, so a resumed cluster writes what an uninterrupted one
//!   writes.
//! - **Retention** (`retention`) may cut a shard's log through a floor; a restart then starts
//!   that shard from the snapshot at its floor and replays the records after it.
//! - **Integrity.** The data directory records its shard count when it is created
//!   (`store::manifest`), and the checkpoint records it again: a missing shard directory is
//!   refused, naming it, and so is a run with another worker count, saying what was
//!   recorded. An output file found shorter than its checkpointed length is refused, naming
//!   the file and both lengths (`sinks::file`): its lost lines were delivered before the
//!   checkpoint and would not be written again. `--repair` repairs logs, not outputs.

pub mod checkpoint;
pub mod retention;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use checkpoint::{Checkpoint, read_checkpoint, write_checkpoint};
use retention::{CheckpointMark, Retention, floor_snapshots};

use super::RunError;
use crate::sinks::OutputFactory;
use crate::sinks::resumed::Delivered;
use crate::store::data_dir::{DataDir, History, ShardLog};
use crate::store::log_progress::LogProgress;
use crate::store::manifest::{check_present, recorded_shards};
use crate::store::shard::Stored;
use crate::store::snapshot::Snapshot;
use crate::store::wal::{WalError, WalOptions};

/// What `--data-dir` and its options ask for.
#[derive(Clone, Debug)]
pub struct DurableConfig {
    pub dir: PathBuf,
    pub wal: WalOptions,
    /// A shard snapshots its state every this many logged records.
    pub snapshot_every: u64,
    /// A checkpoint is taken at the first batch boundary this many input positions after
    /// the last one.
    pub checkpoint_every: u64,
    /// Identifies the dataflow file (e.g. a checksum of its text).
    pub dataflow_id: String,
    /// Identifies the input: a file's canonical path and a checksum of its first 64 KiB, or
    /// the generator and its settings.
    pub input_id: String,
    /// How much history to keep (`None`: all of it).
    pub retention: Option<Retention>,
    /// `(process, processes)` in a cluster run: each process keeps its own data directory
    /// with the shards of its workers.
    pub process: Option<(usize, usize)>,
}

/// Where the timeline and input stand at a checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedPosition {
    pub next_seq: u64,
    pub max_seen: u64,
    pub stamp: u64,
}

/// A durable run's shared state: the shard logs, where it resumes, what was delivered.
pub struct DurableRun {
    config: DurableConfig,
    data: DataDir,
    shards: usize,
    start: FeedPosition,
    /// What the run had delivered before it was restarted (fixed once recovery has run).
    delivered: Delivered,
    completed: bool,
    outputs: std::collections::BTreeMap<String, u64>,
    failure: Arc<Mutex<Option<String>>>,
    end: Mutex<Option<FeedPosition>>,
    /// A server's run: its input never completes (see [`DurableRun::prepare_live`]).
    live: bool,
    /// Per shard, the seq through which retention cut its log.
    floors: Vec<Option<u64>>,
    /// Per shard, the snapshot at its floor, until its shard operator takes it.
    seeds: Mutex<Vec<Option<Snapshot>>>,
    /// A server's run: which of its writes the shard logs hold (what it may acknowledge).
    progress: Option<Arc<LogProgress>>,
}

fn durable_error(error: WalError) -> RunError {
    RunError::Durable(error.to_string())
}

impl DurableRun {
    /// Opens the data directory, recovers the logs, and readies the outputs for a resume.
    /// Returns the run and the recovery warnings to print.
    pub fn prepare(
        config: DurableConfig,
        shards: usize,
        outputs: &dyn OutputFactory,
    ) -> Result<(DurableRun, Vec<String>), RunError> {
        let (run, warnings) = Self::open(config, shards, outputs, false)?;
        run.data
            .truncate_from(run.start.next_seq)
            .map_err(durable_error)?;
        Ok((run, warnings))
    }

    /// As [`prepare`](Self::prepare), for a server's live input: every logged record is
    /// history (the network will not send it again), so nothing is cut back and the input
    /// resumes after the last logged record. A server's run never completes: its final
    /// checkpoint marks everything up to its last batch as delivered, and it takes writes
    /// again after a restart.
    pub fn prepare_live(
        config: DurableConfig,
        shards: usize,
        outputs: &dyn OutputFactory,
    ) -> Result<(DurableRun, Vec<String>), RunError> {
        let (mut run, warnings) = Self::open(config, shards, outputs, true)?;
        run.completed = false;
        let end = log_end(&run.config.dir)?;
        run.start = FeedPosition {
            next_seq: end.next_seq.max(run.start.next_seq),
            max_seen: end.max_seen.max(run.start.max_seen),
            stamp: end.stamp.max(run.start.stamp),
        };
        run.progress = Some(Arc::new(LogProgress::new(shards, run.start.next_seq)));
        Ok((run, warnings))
    }

    /// Opens the data directory, recovers the logs and resumes from the last checkpoint.
    fn open(
        config: DurableConfig,
        shards: usize,
        outputs: &dyn OutputFactory,
        live: bool,
    ) -> Result<(DurableRun, Vec<String>), RunError> {
        let previous = read_checkpoint(&config.dir).map_err(durable_error)?;
        recorded_shards(&config.dir).map_err(durable_error)?;
        if let Some(checkpoint) = &previous {
            check_checkpoint_shards(&config.dir, checkpoint.shards, shards)?;
        }
        let (data, recoveries) =
            DataDir::open(&config.dir, shards, &config.wal).map_err(durable_error)?;
        let mut warnings: Vec<String> = recoveries.iter().flat_map(|r| r.warnings()).collect();
        if let Some(reason) = config.retention.as_ref().and_then(Retention::held_back) {
            warnings.push(format!(
                "retention keeps the whole log: {reason}, which a restart rebuilds from every \
                 event since the start"
            ));
        }
        let seeds = floor_snapshots(&config.dir, shards).map_err(durable_error)?;
        let floors = seeds.iter().map(|s| s.as_ref().map(|s| s.seq)).collect();
        let mut run = DurableRun {
            config,
            data,
            shards,
            start: FeedPosition::default(),
            delivered: Delivered::Nothing,
            completed: false,
            outputs: Default::default(),
            failure: Arc::new(Mutex::new(None)),
            end: Mutex::new(None),
            live,
            floors,
            seeds: Mutex::new(seeds),
            progress: None,
        };
        if let Some(checkpoint) = previous {
            run.resume_from(checkpoint, outputs)?;
        }
        Ok((run, warnings))
    }

    fn resume_from(
        &mut self,
        checkpoint: Checkpoint,
        outputs: &dyn OutputFactory,
    ) -> Result<(), RunError> {
        let dir = self.config.dir.display();
        if checkpoint.dataflow != self.config.dataflow_id {
            return Err(RunError::Durable(format!(
                "{dir} was written by another dataflow file; use a new data directory, or \
                 `kvflow replay` to run another dataflow over its history"
            )));
        }
        if checkpoint.input != self.config.input_id {
            return Err(RunError::Durable(format!(
                "{dir} was fed from {}; this run reads {}: use the same input or a new \
                 data directory",
                checkpoint.input, self.config.input_id
            )));
        }
        if checkpoint.process != self.config.process {
            return Err(RunError::Durable(format!(
                "{dir} holds the shards of {}; this run is {}: keep one data directory per \
                 process and the same cluster shape",
                describe_process(checkpoint.process),
                describe_process(self.config.process)
            )));
        }
        outputs
            .resume(&checkpoint.outputs)
            .map_err(RunError::Durable)?;
        self.start = FeedPosition {
            next_seq: checkpoint.next_seq,
            max_seen: checkpoint.max_seen,
            stamp: checkpoint.stamp,
        };
        self.delivered = match checkpoint.frontier {
            Some(frontier) => Delivered::Before(frontier),
            None => Delivered::Everything,
        };
        self.completed = checkpoint.frontier.is_none();
        self.outputs = checkpoint.outputs;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    pub fn checkpoint_every(&self) -> u64 {
        self.config.checkpoint_every.max(1)
    }

    /// Where the input resumes (all zero for a new directory).
    pub fn start(&self) -> FeedPosition {
        self.start
    }

    /// Whether the checkpoint says the run already completed.
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Every shard's logged history after its retention floor, merged in seq order.
    pub fn history(&self) -> Result<History, RunError> {
        History::open_after(&self.config.dir, &self.floors).map_err(durable_error)
    }

    /// Calls `f` on each key of the snapshots at the retention floors (the state before
    /// [`history`](Self::history)); the shard operators still take them afterwards.
    pub fn for_each_floor_key(&self, mut f: impl FnMut(&Arc<str>, &Stored)) {
        if let Ok(seeds) = self.seeds.lock() {
            for (key, stored) in seeds.iter().flatten().flat_map(|s| s.entries.iter()) {
                f(key, stored);
            }
        }
    }

    /// Shard `shard`'s logged history to replay (after its retention floor, if any).
    pub fn shard_history(&self, shard: usize) -> Result<History, RunError> {
        let floor = self.floors.get(shard).copied().flatten();
        History::open_shards(&self.config.dir, std::iter::once((shard, floor)))
            .map_err(durable_error)
    }

    /// The logging hook of shard `shard`, with the snapshot it starts from past a floor.
    pub fn shard_log(&self, shard: usize) -> Option<ShardLog> {
        let wal = self.data.shard(shard)?;
        let seed = self
            .seeds
            .lock()
            .ok()
            .and_then(|mut seeds| seeds.get_mut(shard).and_then(Option::take));
        let floor = self.floors.get(shard).copied().flatten();
        let retains = self.config.retention.is_some();
        let log = ShardLog::new(
            wal,
            self.start.next_seq,
            self.config.snapshot_every,
            self.failure.clone(),
        );
        let log = log.with_seed(seed).keeping_snapshots(retains, floor);
        Some(match &self.progress {
            Some(progress) => log.reporting_to(progress.clone(), shard),
            None => log,
        })
    }

    /// Whether this is a server's run (its input never completes).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// A server's run: which of its writes are in the log (see `store::log_progress`).
    pub fn log_progress(&self) -> Option<&Arc<LogProgress>> {
        self.progress.as_ref()
    }

    /// From which time on the run's output is new: what sinks are built with.
    pub fn delivered(&self) -> Delivered {
        self.delivered
    }

    /// A logging or snapshot failure of any shard.
    pub fn failure(&self) -> Result<(), RunError> {
        match self.failure.lock().ok().and_then(|f| f.clone()) {
            Some(message) => Err(RunError::Durable(message)),
            None => Ok(()),
        }
    }

    /// Records where worker 0's feed ended (for the final checkpoint).
    pub fn set_end(&self, position: FeedPosition) {
        if let Ok(mut end) = self.end.lock() {
            *end = Some(position);
        }
    }

    /// Writes a checkpoint at `position`; `frontier` `None` marks the run complete.
    pub fn checkpoint(
        &self,
        position: FeedPosition,
        frontier: Option<u64>,
        outputs: &dyn OutputFactory,
    ) -> Result<(), RunError> {
        self.failure()?;
        self.data.sync_all().map_err(durable_error)?;
        let mut lengths = self.outputs.clone();
        lengths.extend(outputs.checkpoint().map_err(RunError::Durable)?);
        let checkpoint = Checkpoint {
            version: 1,
            shards: self.shards,
            dataflow: self.config.dataflow_id.clone(),
            input: self.config.input_id.clone(),
            next_seq: position.next_seq,
            max_seen: position.max_seen,
            stamp: position.stamp,
            frontier,
            outputs: lengths,
            process: self.config.process,
        };
        write_checkpoint(&self.config.dir, &checkpoint).map_err(durable_error)?;
        let mark = CheckpointMark {
            frontier: frontier.unwrap_or(position.stamp.saturating_add(1)),
            max_seen: position.max_seen,
        };
        self.retain(mark)
    }

    /// A retention pass over every shard, after a checkpoint.
    fn retain(&self, mark: CheckpointMark) -> Result<(), RunError> {
        let Some(retention) = &self.config.retention else {
            return Ok(());
        };
        self.data
            .each_shard(|wal| retention::apply(retention, wal, mark).map(|_| ()))
            .map_err(durable_error)
    }

    /// The final checkpoint once every worker finished and outputs were flushed.
    pub fn complete(&self, outputs: &dyn OutputFactory) -> Result<(), RunError> {
        let end = self.end.lock().ok().and_then(|e| *e);
        match end {
            Some(position) if self.live => {
                self.checkpoint(position, Some(position.stamp.saturating_add(1)), outputs)
            }
            Some(position) => self.checkpoint(position, None, outputs),
            None => Ok(()),
        }
    }
}

/// The checkpoint records the shard count too (the only record in a directory from before
/// manifests): each of its shards must be there, and the run must have as many.
fn check_checkpoint_shards(dir: &Path, recorded: usize, shards: usize) -> Result<(), RunError> {
    let source = checkpoint::checkpoint_path(dir).display().to_string();
    check_present(dir, recorded, &source).map_err(durable_error)?;
    if recorded != shards {
        return Err(RunError::Durable(format!(
            "{} was checkpointed by a run with {recorded} shards (one per worker), and this run \
             has {shards}: run it with -w {recorded} (workers per process)",
            dir.display()
        )));
    }
    Ok(())
}

fn describe_process(process: Option<(usize, usize)>) -> String {
    match process {
        Some((p, n)) => format!("process {p} of a {n}-process cluster"),
        None => "a single-process run".into(),
    }
}

/// Where a data directory's log ends: the seq after its last record, the largest event time
/// and the last batch stamp.
fn log_end(dir: &Path) -> Result<FeedPosition, RunError> {
    let mut end = FeedPosition::default();
    for item in History::open(dir, None).map_err(durable_error)? {
        let (_, record) = item.map_err(durable_error)?;
        end.next_seq = end.next_seq.max(record.seq + 1);
        end.max_seen = end.max_seen.max(record.ts);
        end.stamp = end.stamp.max(record.time);
    }
    Ok(end)
}
