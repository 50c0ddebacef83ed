//! Retention: cutting old history out of a data directory, by age or by size, without
//! losing anything a restart needs.
//!
//! A restart rebuilds dataflow state by replaying the log (see the parent module). A log cut
//! by retention can no longer be replayed from its start, so a cut needs two things:
//!
//! - **A snapshot at the floor.** Shard k's log is cut through a seq `floor` only where a
//!   snapshot covers exactly that seq. A restart then puts the snapshot's keys back as the
//!   shard's state and as the table view's rows (seeded changes at the first time: part of
//!   the table, never events) and replays shard k's records after the floor. Every output
//!   time a restart can write (at or after the checkpoint's frontier) sees the same table as
//!   the live run did, since the snapshot is the fold of the records it covers.
//! - **No pipeline that still needs the cut events.** What a plan needs from the history is
//!   [`HistoryNeed`], worked out from its nodes: the table view and anything over it need
//!   only the snapshot; row-local steps over the events view need nothing before their own
//!   time; a tumbling or sliding window over events needs the events of windows still open
//!   (it may cut an event once every window holding it closed past the allowed lateness at
//!   the checkpoint's watermark); everything else over events — a group-by over all events,
//!   a join that holds events, a window over a window, alerts (cooldowns) and routes
//!   (counts) — and sessions over anything (the operator keeps its open sessions) need every
//!   event since the start, and retention then cuts nothing and says so once. So does a
//!   table view in a plan with append-only keys (`[store] append_only_keys`): their rows are
//!   in the table but in no snapshot, since the store keeps none of them.
//!
//! Decisions:
//! - **Age is the segment file's age** (its last write, wall clock), as a log broker
//!   without a time index does: the log keeps no per-segment time index, and reading each
//!   segment's last record to learn its event time would cost a scan per pass.
//! - **Size counts the shard's closed segments**; the segment being written is never cut.
//! - **A pass runs after each checkpoint**, on the thread that took it: the checkpoint's
//!   frontier and watermark are what make a cut safe, and passes stay rare.
//! - The floor file is written before any segment goes, so a crash mid-pass leaves a floor
//!   whose snapshot exists and records after it that a restart reads past.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::plan::{Node, Plan, View, WindowKind};
use crate::store::data_dir::shard_dir;
use crate::store::snapshot::{
    Snapshot, list_snapshots, load_latest, remove_snapshots, snapshot_time,
};
use crate::store::stream::read_floor;
use crate::store::wal::segment::{list_segments, write_atomic};
use crate::store::wal::{LogReader, Wal, WalError};

/// How much history a data directory keeps (either limit, or both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Closed segments last written longer ago than this may go.
    pub max_age: Option<Duration>,
    /// The oldest closed segments go while a shard's closed segments exceed this many bytes.
    pub max_bytes: Option<u64>,
}

impl RetentionPolicy {
    pub fn is_set(&self) -> bool {
        self.max_age.is_some() || self.max_bytes.is_some()
    }
}

/// What a plan's outputs need from the history before an output time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryNeed {
    /// Nothing before their own time (row-local steps over events).
    Nothing,
    /// The table as of the floor (a snapshot stands for the records it covers).
    Table,
    /// Events whose every window closes at most this many ms after their event time
    /// (window size plus allowed lateness).
    EventsWithin(u64),
    /// Every event since the start, for the reason given.
    Everything(String),
}

impl HistoryNeed {
    /// The stricter of two needs.
    fn and(self, other: HistoryNeed) -> HistoryNeed {
        use HistoryNeed::*;
        match (self, other) {
            (Everything(r), _) | (_, Everything(r)) => Everything(r),
            (EventsWithin(a), EventsWithin(b)) => EventsWithin(a.max(b)),
            (EventsWithin(a), _) | (_, EventsWithin(a)) => EventsWithin(a),
            (Table, _) | (_, Table) => Table,
            (Nothing, Nothing) => Nothing,
        }
    }

    fn keeps_events(&self) -> bool {
        matches!(
            self,
            HistoryNeed::EventsWithin(_) | HistoryNeed::Everything(_)
        )
    }

    /// What a plan needs: the strictest need of its pipelines and external sinks.
    pub fn of_plan(plan: &Plan) -> HistoryNeed {
        let mut need = HistoryNeed::Nothing;
        let mut of_pipeline = Vec::with_capacity(plan.pipelines.len());
        let table = match plan.append_only_keys {
            None => HistoryNeed::Table,
            Some(_) => {
                HistoryNeed::Everything("the table view keeps the rows of append-only keys".into())
            }
        };
        for pipeline in &plan.pipelines {
            let own = node_need(&pipeline.node, &pipeline.name, &of_pipeline, &table);
            need = need.and(own.clone());
            of_pipeline.push((pipeline.name.clone(), own));
        }
        if !plan.sinks.sync.is_empty() {
            need = need.and(HistoryNeed::Table);
        }
        if let Some(alert) = plan.sinks.alerts.first() {
            need = need.and(HistoryNeed::Everything(format!(
                "alert `{}` keeps per-group cooldowns",
                alert.name
            )));
        }
        if plan.sinks.routes.is_some() {
            need = need.and(HistoryNeed::Everything(
                "routes keep per-route counts and batches".into(),
            ));
        }
        need
    }
}

/// What `node` of `pipeline` needs; a table source needs `table`.
fn node_need(
    node: &Node,
    pipeline: &str,
    earlier: &[(String, HistoryNeed)],
    table: &HistoryNeed,
) -> HistoryNeed {
    let input = |n: &Node| node_need(n, pipeline, earlier, table);
    let everything = |what: &str| {
        HistoryNeed::Everything(format!("pipeline `{pipeline}` {what} over every event"))
    };
    match node {
        Node::Source { view, .. } => match view {
            View::Events => HistoryNeed::Nothing,
            View::Table => table.clone(),
        },
        Node::Pipeline { name, .. } => earlier
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| everything("reads a pipeline"), |(_, need)| need.clone()),
        Node::Filter { input: i, .. } | Node::Map { input: i, .. } => input(i),
        Node::FlatMap { input: i, .. } => input(i),
        Node::Aggregate {
            input: i, window, ..
        } => {
            let below = input(i);
            let over_events = below.keeps_events() || below == HistoryNeed::Nothing;
            // NB: a session operator keeps open sessions of its own, whatever its input.
            match (window.map(|w| w.kind), over_events) {
                (Some(WindowKind::Session { .. }), _) => everything("keeps sessions"),
                (_, false) => below,
                (None, true) => everything("aggregates"),
                (Some(_), true) if below.keeps_events() => everything("windows windows"),
                (Some(WindowKind::Tumbling { size } | WindowKind::Sliding { size, .. }), true) => {
                    let lateness = window.map_or(0, |w| w.allowed_lateness);
                    HistoryNeed::EventsWithin(size.saturating_add(lateness))
                }
            }
        }
        Node::Join { left, right, .. } => match (input(left), input(right)) {
            (HistoryNeed::Table, HistoryNeed::Table) => HistoryNeed::Table,
            _ => everything("joins"),
        },
        Node::TopN { input: i, .. } => match input(i) {
            HistoryNeed::Table => HistoryNeed::Table,
            _ => everything("ranks"),
        },
        Node::Union { inputs, .. } => inputs
            .iter()
            .map(input)
            .fold(HistoryNeed::Nothing, HistoryNeed::and),
        Node::Window { input: i, .. } => input(i),
        // NB: their state (rows within an interval, open windows) is rebuilt from the events
        // before it; kept whole until retention learns those bounds.
        Node::IntervalJoin { .. } | Node::WindowJoin { .. } => everything("joins event streams"),
    }
}

/// Retention as a durable run applies it.
#[derive(Clone, Debug)]
pub struct Retention {
    pub policy: RetentionPolicy,
    pub need: HistoryNeed,
    /// The plan's watermark lag (ms).
    pub lag: u64,
}

impl Retention {
    pub fn new(policy: RetentionPolicy, plan: &Plan) -> Retention {
        Retention {
            policy,
            need: HistoryNeed::of_plan(plan),
            lag: plan.watermark_lag(),
        }
    }

    /// Why this run's retention cuts nothing, if it cannot.
    pub fn held_back(&self) -> Option<&str> {
        match &self.need {
            HistoryNeed::Everything(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Where a checkpoint stands, as a retention pass needs it.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointMark {
    /// Outputs before this time were delivered.
    pub frontier: u64,
    /// The largest event time seen at the checkpoint.
    pub max_seen: u64,
}

/// One retention pass over shard `wal`: cuts what the policy and the run's needs allow.
/// Returns the new floor, if the pass cut anything.
pub fn apply(
    retention: &Retention,
    wal: &mut Wal,
    mark: CheckpointMark,
) -> Result<Option<u64>, WalError> {
    if !retention.policy.is_set() || retention.held_back().is_some() {
        return Ok(None);
    }
    let dir = wal.dir().to_path_buf();
    let Some(floor) = safe_floor(retention, &dir, mark)? else {
        return Ok(None);
    };
    let candidates = candidate_count(&retention.policy, &dir)?;
    if candidates == 0 || first_segment_end(&dir)?.is_none_or(|end| end > floor) {
        return Ok(None);
    }
    if read_floor(&dir)? != Some(floor) {
        write_atomic(&dir.join("floor"), floor.to_string().as_bytes(), "floor")?;
    }
    let mut left = candidates;
    wal.remove_segments_through(floor, |_| {
        let take = left > 0;
        left = left.saturating_sub(1);
        take
    })?;
    remove_snapshots(&dir, |covered| covered < floor)?;
    Ok(Some(floor))
}

/// The last seq of the oldest segment (its successor's first seq minus one), if two exist.
fn first_segment_end(dir: &Path) -> Result<Option<u64>, WalError> {
    let segments = list_segments(dir)?;
    Ok(segments.get(1).map(|(first, _)| first.saturating_sub(1)))
}

/// The newest snapshot a restart could start from without changing any output it writes.
fn safe_floor(
    retention: &Retention,
    dir: &Path,
    mark: CheckpointMark,
) -> Result<Option<u64>, WalError> {
    for (seq, path) in list_snapshots(dir)?.into_iter().rev() {
        if snapshot_time(&path)? >= mark.frontier {
            continue;
        }
        if let HistoryNeed::EventsWithin(horizon) = retention.need {
            let newest = newest_event_time_through(dir, seq)?;
            let closed_by = newest.saturating_add(horizon).saturating_add(retention.lag);
            if closed_by >= mark.max_seen {
                continue;
            }
        }
        return Ok(Some(seq));
    }
    Ok(None)
}

/// The largest event time of any record with seq <= `seq` (in any shard): a record's
/// `max_seen` is the largest event time seen before it in the whole input.
fn newest_event_time_through(dir: &Path, seq: u64) -> Result<u64, WalError> {
    let after = seq.checked_sub(1);
    match LogReader::open(dir, after)?.next().transpose()? {
        Some(record) if record.seq == seq => Ok(record.max_seen.max(record.ts)),
        _ => Ok(u64::MAX),
    }
}

/// How many of the oldest closed segments the policy lets go.
fn candidate_count(policy: &RetentionPolicy, dir: &Path) -> Result<usize, WalError> {
    let segments = list_segments(dir)?;
    let closed = &segments[..segments.len().saturating_sub(1)];
    let mut sizes = Vec::with_capacity(closed.len());
    let mut ages = Vec::with_capacity(closed.len());
    for (_, path) in closed {
        let meta = std::fs::metadata(path).map_err(|e| WalError::io(path, e))?;
        sizes.push(meta.len());
        let written = meta.modified().map_err(|e| WalError::io(path, e))?;
        ages.push(
            SystemTime::now()
                .duration_since(written)
                .unwrap_or_default(),
        );
    }
    let by_age = policy
        .max_age
        .map_or(0, |max| ages.iter().take_while(|age| **age > max).count());
    let by_size = policy.max_bytes.map_or(0, |max| {
        let mut total: u64 = sizes.iter().sum();
        sizes
            .iter()
            .take_while(|size| {
                let over = total > max;
                total -= **size;
                over
            })
            .count()
    });
    Ok(by_age.max(by_size))
}

/// Per shard of `root`, the snapshot it restarts from when retention cut its log.
pub fn floor_snapshots(root: &Path, shards: usize) -> Result<Vec<Option<Snapshot>>, WalError> {
    (0..shards).map(|k| floor_snapshot(root, k)).collect()
}

/// The snapshot a shard with a floor restarts from: the one covering exactly the floor.
pub fn floor_snapshot(root: &Path, shard: usize) -> Result<Option<Snapshot>, WalError> {
    let dir = shard_dir(root, shard);
    let Some(floor) = read_floor(&dir)? else {
        return Ok(None);
    };
    match load_latest(&dir, Some(floor))? {
        Some(snapshot) if snapshot.seq == floor => Ok(Some(snapshot)),
        _ => Err(WalError::Invalid(format!(
            "{}: the log was cut through seq {floor}, but the snapshot of that seq is missing",
            dir.display()
        ))),
    }
}

/// Parses an age: a number with `ms`, `s`, `m`, `h` or `d`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_unit(text);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad age `{text}`: expected e.g. 30m, 12h or 7d"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("bad age `{text}`: the unit is ms, s, m, h or d")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

/// Parses a size: a number of bytes, optionally with `KB`, `MB`, `GB` (powers of 1000) or
/// `KiB`, `MiB`, `GiB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_unit(text);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad size `{text}`: expected e.g. 512MiB or 2GB"))?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "bad size `{text}`: the unit is B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    Ok(n.saturating_mul(scale))
}

fn split_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (&text[..at], text[at..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str = r#"
[sources.events]
view = "events"

[sources.table]
view = "table"
"#;

    fn need(pipelines: &str) -> HistoryNeed {
        let text = format!("{SOURCES}{pipelines}");
        let loaded =
            crate::dataflow_file::load_str(&text, "t.toml", Path::new(".")).expect("valid");
        HistoryNeed::of_plan(&loaded.plan)
    }

    fn is_everything(need: &HistoryNeed, reason: &str) -> bool {
        matches!(need, HistoryNeed::Everything(r) if r.contains(reason))
    }

    #[test]
    fn table_and_row_local_pipelines_need_a_snapshot_at_most() {
        let table = "[[pipelines]]\nname = \"t\"\nfrom = \"table\"\n[[pipelines.steps]]\n\
                     group_by = [\"key\"]\naggregates = { n = \"count(*)\" }\n";
        assert_eq!(need(table), HistoryNeed::Table);
        let rows = "[[pipelines]]\nname = \"e\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                    filter = \"kind = 'insert'\"\n";
        assert_eq!(need(rows), HistoryNeed::Nothing);
    }

    #[test]
    fn a_table_with_append_only_keys_needs_everything() {
        let store = "[store]\nappend_only_keys = \"^click_\"\n";
        let table = "[[pipelines]]\nname = \"t\"\nfrom = \"table\"\n[[pipelines.steps]]\n\
                     filter = \"true\"\n";
        assert!(is_everything(
            &need(&format!("{store}{table}")),
            "append-only"
        ));
        let rows = "[[pipelines]]\nname = \"e\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                    filter = \"true\"\n";
        assert_eq!(need(&format!("{store}{rows}")), HistoryNeed::Nothing);
    }

    #[test]
    fn bounded_windows_over_events_need_their_size_and_lateness() {
        let tumbling = "[[pipelines]]\nname = \"w\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                        window = { kind = \"tumbling\", size = 1000, allowed_lateness = 50 }\n\
                        aggregates = { n = \"count(*)\" }\n";
        assert_eq!(need(tumbling), HistoryNeed::EventsWithin(1050));
        let sliding = "[[pipelines]]\nname = \"w\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                       window = { kind = \"sliding\", size = 3000, slide = 1000 }\n\
                       aggregates = { n = \"count(*)\" }\n";
        assert_eq!(need(sliding), HistoryNeed::EventsWithin(3000));
    }

    #[test]
    fn unbounded_state_over_events_needs_everything() {
        let all = "[[pipelines]]\nname = \"all\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                   group_by = [\"kind\"]\naggregates = { n = \"count(*)\" }\n";
        assert!(is_everything(&need(all), "pipeline `all` aggregates"));
        let sessions = "[[pipelines]]\nname = \"s\"\nfrom = \"events\"\n[[pipelines.steps]]\n\
                        window = { kind = \"session\", gap = 100 }\ngroup_by = [\"key\"]\n\
                        aggregates = { n = \"count(*)\" }\n";
        assert!(is_everything(&need(sessions), "keeps sessions"));
        let table_sessions = sessions.replace("from = \"events\"", "from = \"table\"");
        assert!(is_everything(&need(&table_sessions), "keeps sessions"));
        let over_windows = "[[pipelines]]\nname = \"w\"\nfrom = \"events\"\n\
                            [[pipelines.steps]]\nwindow = { kind = \"tumbling\", size = 10 }\n\
                            aggregates = { n = \"count(*)\" }\n[[pipelines]]\nname = \"m\"\n\
                            from = \"w\"\n[[pipelines.steps]]\naggregates = { top = \"max(n)\" }\n";
        assert!(is_everything(
            &need(over_windows),
            "pipeline `m` aggregates"
        ));
    }

    #[test]
    fn ages_and_sizes_parse_with_their_units() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_age("7 weeks").is_err());
        assert!(parse_age("").is_err());
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12 parsecs").is_err());
    }

    fn logged_shard(dir: &Path) -> Wal {
        use crate::store::wal::{LogRecord, WalOptions};
        let options = WalOptions {
            fsync: "never".parse().expect("policy"),
            segment_bytes: 300,
            repair: false,
        };
        let (mut wal, _) = Wal::open(dir, &options).expect("open");
        for seq in 1..=100u64 {
            wal.append(&LogRecord {
                seq,
                time: seq / 10,
                ts: seq * 10,
                max_seen: (seq - 1) * 10,
                op: crate::change::Op::Put,
                key: format!("k{}", seq % 7).into(),
                value: crate::value::Value::Int(seq as i64),
                origin: None,
            });
            if seq % 10 == 0 {
                wal.commit().expect("commit");
            }
        }
        let old = SystemTime::now() - Duration::from_secs(7200);
        for (_, path) in list_segments(dir).expect("segments") {
            let file = std::fs::File::options()
                .append(true)
                .open(&path)
                .expect("open");
            file.set_modified(old).expect("mtime");
        }
        crate::store::snapshot::write_snapshot(dir, 59, 5, 0, std::iter::empty())
            .expect("snapshot");
        wal
    }

    fn by_age(need: HistoryNeed) -> Retention {
        Retention {
            policy: RetentionPolicy {
                max_age: Some(Duration::from_secs(3600)),
                max_bytes: None,
            },
            need,
            lag: 0,
        }
    }

    #[test]
    fn old_segments_go_through_the_snapshot_floor_and_no_further() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut wal = logged_shard(dir.path());
        let mark = CheckpointMark {
            frontier: 9,
            max_seen: 1000,
        };
        assert_eq!(
            apply(&by_age(HistoryNeed::Table), &mut wal, mark).expect("pass"),
            Some(59)
        );
        assert_eq!(read_floor(dir.path()).expect("floor"), Some(59));
        let first = list_segments(dir.path()).expect("segments")[0].0;
        assert!(first > 1 && first <= 60, "first kept seq {first}");
        let kept: Vec<u64> = LogReader::open(dir.path(), Some(59))
            .expect("reader")
            .map(|r| r.expect("record").seq)
            .collect();
        assert_eq!(kept, (60..=100).collect::<Vec<_>>());
    }

    #[test]
    fn an_open_window_or_an_undelivered_snapshot_holds_the_cut_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut wal = logged_shard(dir.path());
        // Seq 59 has ts 590: a 500 ms window holding it is open while max_seen < 1090.
        let open = CheckpointMark {
            frontier: 9,
            max_seen: 1000,
        };
        let windowed = by_age(HistoryNeed::EventsWithin(500));
        assert_eq!(apply(&windowed, &mut wal, open).expect("pass"), None);
        let undelivered = CheckpointMark {
            frontier: 5,
            max_seen: 5000,
        };
        assert_eq!(apply(&windowed, &mut wal, undelivered).expect("pass"), None);
        assert_eq!(list_segments(dir.path()).expect("segments")[0].0, 1);
        let closed = CheckpointMark {
            frontier: 9,
            max_seen: 1100,
        };
        assert_eq!(apply(&windowed, &mut wal, closed).expect("pass"), Some(59));
    }
}
