//! The brute-force oracles' building blocks and the run harness (the generator is the
//! shared [`Rng`]).
//!
//! Nothing here calls engine code to compute an expected result: values, JSON lines, event
//! kinds, lateness and batch stamps are all re-derived from the mutations. The engine is only
//! used to build plans, to turn generated mutations into its input type and to run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use kvflow::change::Mutation;
use kvflow::plan::Plan;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::{LineSink, OutputFactory, OutputKind};
use kvflow::value::Value;

pub use crate::support::Rng;

// ---------------------------------------------------------------------------------------
// Oracle values and JSON

/// The oracle's own JSON value (independent of `kvflow::value::Value`).
#[derive(Clone, Debug)]
pub enum J {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<J>),
    Map(BTreeMap<String, J>),
}

impl J {
    pub fn str(s: &str) -> J {
        J::Str(s.to_string())
    }

    pub fn map<'a>(fields: impl IntoIterator<Item = (&'a str, J)>) -> J {
        J::Map(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    pub fn get(&self, name: &str) -> J {
        match self {
            J::Map(m) => m.get(name).cloned().unwrap_or(J::Null),
            _ => J::Null,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            J::Null => 0,
            J::Int(_) => 2,
            J::Float(_) => 3,
            J::Str(_) => 4,
            J::List(_) => 5,
            J::Map(_) => 6,
        }
    }

    /// The structural order of values: by kind (null < int < float < string < list < map),
    /// then by content.
    pub fn structural_cmp(&self, other: &J) -> Ordering {
        match (self, other) {
            (J::Int(a), J::Int(b)) => a.cmp(b),
            (J::Float(a), J::Float(b)) => a.total_cmp(b),
            (J::Str(a), J::Str(b)) => a.cmp(b),
            (J::List(a), J::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let o = x.structural_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (J::Map(a), J::Map(b)) => {
                let a: Vec<_> = a.iter().collect();
                let b: Vec<_> = b.iter().collect();
                for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
                    let o = ka.cmp(kb).then_with(|| va.structural_cmp(vb));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// The order used by min/max/collect: numbers compare numerically across int and
    /// float, everything else structurally.
    pub fn value_cmp(&self, other: &J) -> Ordering {
        match (self, other) {
            (J::Int(a), J::Float(b)) => (*a as f64).total_cmp(b),
            (J::Float(a), J::Int(b)) => a.total_cmp(&(*b as f64)),
            _ => self.structural_cmp(other),
        }
    }

    pub fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Float(f) => {
                if !f.is_finite() {
                    out.push_str("null");
                } else if f.fract() == 0.0 && f.abs() < 1e15 {
                    let _ = write!(out, "{f:.1}");
                } else {
                    let _ = write!(out, "{f}");
                }
            }
            J::Str(s) => write_str(s, out),
            J::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The engine's input type (input conversion only).
    pub fn to_value(&self) -> Value {
        match self {
            J::Null => Value::Null,
            J::Int(i) => Value::Int(*i),
            J::Float(f) => Value::from(*f),
            J::Str(s) => Value::from(s.as_str()),
            J::List(items) => Value::list(items.iter().map(J::to_value).collect()),
            J::Map(m) => Value::map(m.iter().map(|(k, v)| (k.clone(), v.to_value()))),
        }
    }
}

impl PartialEq for J {
    fn eq(&self, other: &J) -> bool {
        self.structural_cmp(other) == Ordering::Equal
    }
}
impl Eq for J {}
impl PartialOrd for J {
    fn partial_cmp(&self, other: &J) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for J {
    fn cmp(&self, other: &J) -> Ordering {
        self.structural_cmp(other)
    }
}

impl From<i64> for J {
    fn from(v: i64) -> J {
        J::Int(v)
    }
}
impl From<i32> for J {
    fn from(v: i32) -> J {
        J::Int(i64::from(v))
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::Int(v as i64)
    }
}
impl From<&str> for J {
    fn from(v: &str) -> J {
        J::Str(v.to_string())
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A flat JSON object with fields in this order: `{"a":1,"b":"x"}`.
pub fn obj(fields: &[(&str, J)]) -> String {
    let mut out = String::from("{");
    write_fields(fields, &mut out);
    out.push('}');
    out
}

/// A changelog line: `{"op":"upsert",<fields>}`.
pub fn op_line(op: &str, fields: &[(&str, J)]) -> String {
    let mut out = format!("{{\"op\":\"{op}\",");
    write_fields(fields, &mut out);
    out.push('}');
    out
}

fn write_fields(fields: &[(&str, J)], out: &mut String) {
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(name, out);
        out.push(':');
        value.write(out);
    }
}

/// `split_part(key, '_', 1)`.
pub fn prefix_of(key: &str) -> String {
    key.split('_').next().unwrap_or("").to_string()
}

// ---------------------------------------------------------------------------------------
// Generated input

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Put(J),
    Delete,
}

/// One generated mutation.
#[derive(Clone, Debug, PartialEq)]
pub struct Mut {
    pub key: String,
    pub op: Op,
    pub ts: u64,
}

impl Mut {
    pub fn put(key: &str, value: impl Into<J>, ts: u64) -> Mut {
        Mut {
            key: key.to_string(),
            op: Op::Put(value.into()),
            ts,
        }
    }

    pub fn put_j(key: &str, value: J, ts: u64) -> Mut {
        Mut {
            key: key.to_string(),
            op: Op::Put(value),
            ts,
        }
    }

    pub fn delete(key: &str, ts: u64) -> Mut {
        Mut {
            key: key.to_string(),
            op: Op::Delete,
            ts,
        }
    }

    pub fn to_mutation(&self) -> Mutation {
        match &self.op {
            Op::Put(v) => Mutation::put(self.key.clone(), v.to_value(), self.ts),
            Op::Delete => Mutation::delete(self.key.clone(), self.ts),
        }
    }
}

pub fn to_input(muts: &[Mut]) -> Arc<Vec<Mutation>> {
    Arc::new(muts.iter().map(Mut::to_mutation).collect())
}

/// What the random stream looks like.
#[derive(Clone, Debug)]
pub struct Gen {
    pub prefixes: Vec<&'static str>,
    pub keys_per_prefix: u64,
    pub len: usize,
    /// Max out-of-orderness: every ts is at least (max ts so far - disorder)...
    pub disorder: u64,
    /// ... unless it is one of these deliberately late ones (percent).
    pub late_percent: u64,
    /// How far behind a deliberately late event is, at most (beyond `disorder`).
    pub late_by: u64,
    /// The clock advances by up to this much per event...
    pub max_step: u64,
    /// ... with this chance (percent); several events share a clock value otherwise, which
    /// keeps the number of batches (the cost of a 4-worker run) down.
    pub advance_percent: u64,
    /// ... and with this chance (percent) jumps by `jump` (gaps between sessions).
    pub jump_percent: u64,
    pub jump: u64,
    pub delete_percent: u64,
    /// Of the deletes, this share (percent) targets a key that is never written.
    pub missing_delete_percent: u64,
    /// Puts are sometimes a float, a string or null (for error/min/max checks).
    pub mixed_values: bool,
}

impl Default for Gen {
    fn default() -> Gen {
        Gen {
            prefixes: vec!["a", "b", "c"],
            keys_per_prefix: 10,
            len: 130,
            disorder: 200,
            late_percent: 0,
            late_by: 0,
            max_step: 300,
            advance_percent: 35,
            jump_percent: 4,
            jump: 2500,
            delete_percent: 15,
            missing_delete_percent: 30,
            mixed_values: false,
        }
    }
}

impl Gen {
    pub fn generate(&self, seed: u64) -> Vec<Mut> {
        let mut rng = Rng::new(seed);
        let mut clock: u64 = rng.below(300);
        let mut out = Vec::with_capacity(self.len);
        for _ in 0..self.len {
            if rng.chance(self.advance_percent) {
                clock += 1 + rng.below(self.max_step);
            }
            if rng.chance(self.jump_percent) {
                clock += self.jump;
            }
            let ts = if self.late_percent > 0 && rng.chance(self.late_percent) {
                clock.saturating_sub(self.disorder + 1 + rng.below(self.late_by.max(1)))
            } else {
                clock - rng.below(self.disorder.min(clock) + 1)
            };
            let prefix = *rng.pick(&self.prefixes);
            let op = if rng.chance(self.delete_percent) {
                if rng.chance(self.missing_delete_percent) {
                    out.push(Mut::delete(&format!("{prefix}_{}", 900 + rng.below(5)), ts));
                    continue;
                }
                Op::Delete
            } else {
                Op::Put(self.value(&mut rng))
            };
            let key = format!("{prefix}_{}", rng.below(self.keys_per_prefix));
            out.push(Mut { key, op, ts });
        }
        out
    }

    fn value(&self, rng: &mut Rng) -> J {
        if self.mixed_values {
            match rng.below(100) {
                // Never integral, so no int/float ties in min/max.
                0..10 => return J::Float(rng.range(-3, 8) as f64 + *rng.pick(&[0.25, 0.5, 0.75])),
                10..16 => return J::Str(format!("s{}", rng.below(4))),
                16..21 => return J::Null,
                _ => {}
            }
        }
        J::Int(rng.range(-3, 12))
    }
}

// ---------------------------------------------------------------------------------------
// Replay: the store and the timeline, brute force

/// One applied change, as the events view shows it.
#[derive(Clone, Debug)]
pub struct Ev {
    pub seq: u64,
    pub ts: u64,
    pub kind: &'static str,
    pub key: String,
    pub value: J,
    pub old: J,
    /// The largest ts among the mutations before this one.
    pub max_seen_before: u64,
}

impl Ev {
    pub fn prefix(&self) -> String {
        prefix_of(&self.key)
    }

    /// The events-view row's fields: `key, ts, kind, seq, value, old`, named `<side>.<f>`
    /// when `side` is given.
    pub fn fields(&self, side: Option<&str>) -> Vec<(String, J)> {
        let name = |f: &str| side.map_or(f.to_string(), |s| format!("{s}.{f}"));
        vec![
            (name("key"), J::str(&self.key)),
            (name("ts"), J::from(self.ts)),
            (name("kind"), J::str(self.kind)),
            (name("seq"), J::from(self.seq)),
            (name("value"), self.value.clone()),
            (name("old"), self.old.clone()),
        ]
    }

    /// `{"late":true,<events row>}`.
    pub fn late_line(&self) -> String {
        let fields = self.fields(None);
        let borrowed: Vec<(&str, J)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        let mut out = String::from("{\"late\":true,");
        write_fields(&borrowed, &mut out);
        out.push('}');
        out
    }

    /// Late for a windowed pipeline whose bound is `max_out_of_orderness + lateness`.
    pub fn is_late(&self, bound: u64) -> bool {
        self.ts + bound < self.max_seen_before
    }
}

/// A live key of the table view.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    pub value: J,
    pub ts: u64,
    pub seq: u64,
}

impl Live {
    pub fn fields(&self, key: &str, side: Option<&str>) -> Vec<(String, J)> {
        let name = |f: &str| side.map_or(f.to_string(), |s| format!("{s}.{f}"));
        vec![
            (name("key"), J::str(key)),
            (name("ts"), J::from(self.ts)),
            (name("seq"), J::from(self.seq)),
            (name("value"), self.value.clone()),
        ]
    }
}

pub type Table = BTreeMap<String, Live>;

/// A table-view change: the row that left (if any) and the row that arrived (if any).
#[derive(Clone, Debug)]
pub struct TableChange {
    pub seq: u64,
    pub key: String,
    pub removed: Option<Live>,
    pub added: Option<Live>,
}

/// The whole stream replayed through a hash map store.
#[derive(Clone, Debug)]
pub struct Replay {
    pub events: Vec<Ev>,
    pub table_changes: Vec<TableChange>,
    pub table: Table,
    /// `table_after[i]`: the table after mutation `i`, only when asked for.
    pub missing_deletes: usize,
}

pub fn replay(muts: &[Mut]) -> Replay {
    let mut store: HashMap<String, Live> = HashMap::new();
    let mut events = Vec::new();
    let mut table_changes = Vec::new();
    let mut max_seen = 0u64;
    let mut missing_deletes = 0;
    for (i, m) in muts.iter().enumerate() {
        let seq = i as u64;
        let before = max_seen;
        max_seen = max_seen.max(m.ts);
        match &m.op {
            Op::Put(v) => {
                let live = Live {
                    value: v.clone(),
                    ts: m.ts,
                    seq,
                };
                let old = store.insert(m.key.clone(), live.clone());
                events.push(Ev {
                    seq,
                    ts: m.ts,
                    kind: if old.is_some() { "update" } else { "insert" },
                    key: m.key.clone(),
                    value: v.clone(),
                    old: old.as_ref().map_or(J::Null, |o| o.value.clone()),
                    max_seen_before: before,
                });
                table_changes.push(TableChange {
                    seq,
                    key: m.key.clone(),
                    removed: old,
                    added: Some(live),
                });
            }
            Op::Delete => match store.remove(&m.key) {
                Some(old) => {
                    events.push(Ev {
                        seq,
                        ts: m.ts,
                        kind: "delete",
                        key: m.key.clone(),
                        value: J::Null,
                        old: old.value.clone(),
                        max_seen_before: before,
                    });
                    table_changes.push(TableChange {
                        seq,
                        key: m.key.clone(),
                        removed: Some(old),
                        added: None,
                    });
                }
                None => missing_deletes += 1,
            },
        }
    }
    Replay {
        events,
        table_changes,
        table: store.into_iter().collect(),
        missing_deletes,
    }
}

/// The batch stamp (timely time) of every mutation, re-derived from the documented rule: the
/// watermark is `max ts seen - lag`; a new batch starts, stamped with the watermark, once
/// the watermark reaches the current stamp + `batch_ms`; the first batch is stamped 0.
pub fn batch_stamps(muts: &[Mut], lag: u64, batch_ms: u64) -> Vec<u64> {
    let mut max_seen = 0u64;
    let mut stamp = 0u64;
    muts.iter()
        .map(|m| {
            max_seen = max_seen.max(m.ts);
            let watermark = max_seen.saturating_sub(lag);
            if watermark >= stamp + batch_ms.max(1) {
                stamp = watermark;
            }
            stamp
        })
        .collect()
}

/// The table after every mutation whose stamp is at most each distinct stamp.
pub fn table_at_stamps(muts: &[Mut], stamps: &[u64]) -> BTreeMap<u64, Table> {
    let mut out = BTreeMap::new();
    for (i, stamp) in stamps.iter().enumerate() {
        let last_of_batch = stamps.get(i + 1).is_none_or(|next| next != stamp);
        if last_of_batch {
            out.insert(*stamp, replay(&muts[..=i]).table);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Aggregates, brute force

/// The multiset of one group's rows: each row's aggregate argument and its ts.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub rows: Vec<(u64, J)>,
}

impl Group {
    pub fn push(&mut self, ts: u64, v: J) {
        self.rows.push((ts, v));
    }

    pub fn count(&self) -> J {
        J::Int(self.rows.len() as i64)
    }

    fn non_null(&self) -> impl Iterator<Item = &J> {
        self.rows.iter().map(|(_, v)| v).filter(|v| !v.is_null())
    }

    pub fn count_of(&self) -> J {
        J::Int(self.non_null().count() as i64)
    }

    /// SQL sum over ints and quarter floats, exact: NULL over no numbers; an int unless a
    /// float took part.
    fn quarters(&self) -> (i64, usize, bool) {
        let mut quarters: i64 = 0;
        let mut n = 0;
        let mut float = false;
        for v in self.non_null() {
            match v {
                J::Int(i) => quarters += 4 * i,
                J::Float(f) => {
                    assert_eq!((f * 4.0).fract(), 0.0, "oracle floats are quarters");
                    quarters += (f * 4.0) as i64;
                    float = true;
                }
                other => panic!("oracle sum over {other:?}"),
            }
            n += 1;
        }
        (quarters, n, float)
    }

    pub fn sum(&self) -> J {
        let (quarters, n, float) = self.quarters();
        if n == 0 {
            J::Null
        } else if float {
            J::Float(quarters as f64 / 4.0)
        } else {
            J::Int(quarters / 4)
        }
    }

    pub fn avg(&self) -> J {
        let (quarters, n, _) = self.quarters();
        if n == 0 {
            J::Null
        } else {
            J::Float(quarters as f64 / 4.0 / n as f64)
        }
    }

    pub fn min(&self) -> J {
        self.non_null()
            .min_by(|a, b| a.value_cmp(b))
            .cloned()
            .unwrap_or(J::Null)
    }

    pub fn max(&self) -> J {
        self.non_null()
            .max_by(|a, b| a.value_cmp(b))
            .cloned()
            .unwrap_or(J::Null)
    }

    pub fn count_distinct(&self) -> J {
        let set: BTreeSet<&J> = self.non_null().collect();
        J::Int(set.len() as i64)
    }

    /// The value of the row with the least ts (ties: the least value).
    pub fn first(&self) -> J {
        self.rows
            .iter()
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
            .map_or(J::Null, |r| r.1.clone())
    }

    /// The value of the row with the greatest ts (ties: the greatest value).
    pub fn last(&self) -> J {
        self.rows
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
            .map_or(J::Null, |r| r.1.clone())
    }

    /// The non-null values, sorted numerically, at most `limit`.
    pub fn collect(&self, limit: usize) -> J {
        let mut items: Vec<J> = self.non_null().cloned().collect();
        items.sort_by(|a, b| a.value_cmp(b));
        items.truncate(limit);
        J::List(items)
    }
}

// ---------------------------------------------------------------------------------------
// Windows, brute force

/// Every `[k*slide, k*slide + size)` that contains `ts`.
pub fn fixed_windows(ts: u64, size: u64, slide: u64) -> Vec<(u64, u64)> {
    (0..=ts / slide)
        .map(|k| (k * slide, k * slide + size))
        .filter(|(s, e)| *s <= ts && ts < *e)
        .collect()
}

/// Sessions of one group's `(ts, value)` rows: sorted by ts, a difference of more than `gap`
/// starts a new one; each is `[first, last + gap)`.
pub fn sessions(rows: &[(u64, J)], gap: u64) -> Vec<((u64, u64), Group)> {
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|r| r.0);
    let mut out: Vec<((u64, u64), Group)> = Vec::new();
    let mut last = 0;
    for (ts, v) in sorted {
        match out.last_mut() {
            Some((_, group)) if ts <= last + gap => group.push(ts, v),
            _ => {
                let mut group = Group::default();
                group.push(ts, v);
                out.push(((ts, 0), group));
            }
        }
        last = ts;
        out.last_mut().unwrap().0.1 = ts + gap;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running the engine

/// Keeps every output's lines in the order they were written (per worker, that is time
/// order), so a changelog can be folded; `sorted` gives them sorted.
#[derive(Clone, Default)]
pub struct Recorder {
    sinks: Arc<Mutex<RecordSinks>>,
}

type RecordSinks = BTreeMap<(String, OutputKind), Arc<RecordSink>>;

#[derive(Default)]
struct RecordSink {
    text: Mutex<String>,
}

impl LineSink for RecordSink {
    fn write(&self, lines: &str) {
        self.text.lock().unwrap().push_str(lines);
    }
}

impl OutputFactory for Recorder {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        self.sinks
            .lock()
            .unwrap()
            .entry((pipeline.to_string(), kind))
            .or_default()
            .clone()
    }
}

impl Recorder {
    /// Lines in the order written.
    pub fn ordered(&self, pipeline: &str, kind: OutputKind) -> Vec<String> {
        let sinks = self.sinks.lock().unwrap();
        sinks
            .get(&(pipeline.to_string(), kind))
            .map(|s| s.text.lock().unwrap().lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn sorted(&self, pipeline: &str, kind: OutputKind) -> Vec<String> {
        let mut lines = self.ordered(pipeline, kind);
        lines.sort();
        lines
    }

    pub fn rows(&self, pipeline: &str) -> Vec<String> {
        self.sorted(pipeline, OutputKind::Rows)
    }
}

/// The run configurations of every property case: (workers, batch_ms).
pub const CONFIGS: [(usize, u64); 4] = [(1, 1), (4, 1), (1, 500), (4, 500)];

pub struct RunCfg {
    pub workers: usize,
    pub batch_ms: u64,
    /// Events a batch holds at least (`RunOptions::batch_events`); 0 cuts by event time
    /// alone, as [`batch_stamps`] derives.
    pub batch_events: u64,
    pub raw: bool,
}

pub fn run_plan(plan: &Arc<Plan>, input: &Arc<Vec<Mutation>>, cfg: RunCfg) -> Recorder {
    let recorder = Recorder::default();
    let mut options = RunOptions::default()
        .workers(cfg.workers)
        .batch_ms(cfg.batch_ms)
        .batch_events(cfg.batch_events);
    options.raw_output = cfg.raw;
    run(
        plan.clone(),
        InputSource::Memory(input.clone()),
        options,
        Arc::new(recorder.clone()),
    )
    .expect("run succeeds");
    recorder
}

/// Runs `plan` in every configuration of [`CONFIGS`].
pub fn run_all(plan: &Plan, muts: &[Mut]) -> Vec<((usize, u64), Recorder)> {
    let plan = Arc::new(plan.clone());
    let input = to_input(muts);
    CONFIGS
        .iter()
        .map(|&(workers, batch_ms)| {
            let rec = run_plan(
                &plan,
                &input,
                RunCfg {
                    workers,
                    batch_ms,
                    batch_events: 0,
                    raw: false,
                },
            );
            ((workers, batch_ms), rec)
        })
        .collect()
}

/// Asserts two sorted line lists are equal, showing what is missing and what is extra.
#[track_caller]
pub fn assert_lines(context: &str, got: &[String], want: &[String]) {
    let mut got = got.to_vec();
    let mut want = want.to_vec();
    got.sort();
    want.sort();
    if got == want {
        return;
    }
    let mut missing: Vec<&String> = Vec::new();
    let mut extra: Vec<&String> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < got.len() || j < want.len() {
        match (got.get(i), want.get(j)) {
            (Some(g), Some(w)) if g == w => {
                i += 1;
                j += 1;
            }
            (Some(g), Some(w)) if g < w => {
                extra.push(g);
                i += 1;
            }
            (Some(_), Some(w)) => {
                missing.push(w);
                j += 1;
            }
            (Some(g), None) => {
                extra.push(g);
                i += 1;
            }
            (None, Some(w)) => {
                missing.push(w);
                j += 1;
            }
            (None, None) => break,
        }
    }
    let show = |v: &[&String]| {
        v.iter()
            .take(12)
            .map(|s| format!("\n    {s}"))
            .collect::<String>()
    };
    panic!(
        "{context}: {} lines, expected {}\n  missing ({}):{}\n  unexpected ({}):{}",
        got.len(),
        want.len(),
        missing.len(),
        show(&missing),
        extra.len(),
        show(&extra)
    );
}

/// Asserts that the sorted lines of `pipeline`'s `kind` output are the same in every run.
#[track_caller]
pub fn assert_same_across(
    runs: &[((usize, u64), Recorder)],
    pipeline: &str,
    kind: OutputKind,
    context: &str,
) {
    let (first_cfg, first) = &runs[0];
    let reference = first.sorted(pipeline, kind);
    for (cfg, rec) in &runs[1..] {
        assert_lines(
            &format!("{context}: {pipeline} {kind:?} with {cfg:?} vs {first_cfg:?}"),
            &rec.sorted(pipeline, kind),
            &reference,
        );
    }
}

/// Asserts that runs with the same batch size wrote the same sorted lines (1 vs 4 workers).
#[track_caller]
pub fn assert_same_per_batch(
    runs: &[((usize, u64), Recorder)],
    pipeline: &str,
    kind: OutputKind,
    context: &str,
) {
    for (i, (cfg_a, a)) in runs.iter().enumerate() {
        for (cfg_b, b) in &runs[i + 1..] {
            if cfg_a.1 == cfg_b.1 {
                assert_lines(
                    &format!("{context}: {pipeline} {kind:?} with {cfg_b:?} vs {cfg_a:?}"),
                    &b.sorted(pipeline, kind),
                    &a.sorted(pipeline, kind),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading output lines back

/// Splits a changelog line into its op (`None` for a plain row) and the plain row.
pub fn split_op(line: &str) -> (Option<&'static str>, String) {
    for op in ["upsert", "delete"] {
        let head = format!("{{\"op\":\"{op}\",");
        if let Some(rest) = line.strip_prefix(&head) {
            return (Some(op), format!("{{{rest}"));
        }
    }
    (None, line.to_string())
}

/// The values of the first `n` fields of a flat JSON row, as text (the changelog key).
pub fn key_of(row: &str, n: usize) -> String {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(row).unwrap_or_else(|e| panic!("bad row {row}: {e}"));
    // serde_json's map is sorted; take the field order from the text instead.
    let mut names = Vec::new();
    let mut rest = row;
    while names.len() < n {
        let start = rest.find('"').expect("field name");
        let end = start + 1 + rest[start + 1..].find('"').expect("name end");
        let name = &rest[start + 1..end];
        names.push(name.to_string());
        // Skip to the next top-level comma.
        let mut depth = 0i32;
        let mut in_str = false;
        let mut escaped = false;
        let mut cut = rest.len();
        for (i, c) in rest[end + 1..].char_indices() {
            if in_str {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                ',' if depth == 0 => {
                    cut = end + 1 + i;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[cut.min(rest.len())..];
    }
    names
        .iter()
        .map(|n| parsed.get(n).map_or("null".to_string(), |v| v.to_string()))
        .collect::<Vec<_>>()
        .join("|")
}

/// Folds a keyed changelog written in order (plain rows and upserts set a key's row,
/// deletes remove it) into the final rows, sorted.
pub fn fold_keyed(lines: &[String], key_len: usize) -> Vec<String> {
    let mut state: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let (op, row) = split_op(line);
        let key = key_of(&row, key_len);
        match op {
            Some("delete") => {
                assert!(
                    state.remove(&key).is_some(),
                    "delete of an absent key: {line}"
                );
            }
            _ => {
                state.insert(key, row);
            }
        }
    }
    let mut rows: Vec<String> = state.into_values().collect();
    rows.sort();
    rows
}

/// Folds a per-row changelog (upsert adds the row, delete removes it), in order.
pub fn fold_rows(lines: &[String]) -> Vec<String> {
    let mut state: BTreeMap<String, i64> = BTreeMap::new();
    for line in lines {
        let (op, row) = split_op(line);
        let count = state.entry(row).or_default();
        match op {
            Some("delete") => *count -= 1,
            Some(_) => *count += 1,
            None => panic!("a plain row in a row changelog: {line}"),
        }
    }
    let mut rows = Vec::new();
    for (row, count) in state {
        assert!((0..=1).contains(&count), "row count {count}: {row}");
        if count == 1 {
            rows.push(row);
        }
    }
    rows
}

/// A raw output line `{"diff":d,"time":t,<row>}` as `(diff, time, plain row)`.
pub fn parse_raw(line: &str) -> (i64, u64, String) {
    let rest = line
        .strip_prefix("{\"diff\":")
        .unwrap_or_else(|| panic!("not raw: {line}"));
    let comma = rest.find(',').unwrap();
    let diff: i64 = rest[..comma].parse().unwrap();
    let rest = rest[comma + 1..].strip_prefix("\"time\":").unwrap();
    let comma = rest.find(',').unwrap_or(rest.len() - 1);
    let time: u64 = rest[..comma].trim_end_matches('}').parse().unwrap();
    (diff, time, format!("{{{}", &rest[comma + 1..]))
}

/// The rows accumulated from raw lines up to and including `time`.
pub fn accumulate_raw(lines: &[(i64, u64, String)], time: u64) -> Vec<String> {
    let mut acc: BTreeMap<&str, i64> = BTreeMap::new();
    for (diff, t, row) in lines {
        if *t <= time {
            *acc.entry(row.as_str()).or_default() += diff;
        }
    }
    let mut rows = Vec::new();
    for (row, count) in acc {
        assert!(
            (0..=1).contains(&count),
            "accumulated count {count} at {time}: {row}"
        );
        if count == 1 {
            rows.push(row.to_string());
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------
// Expected window rows

/// `{"window_start":s,"window_end":e,"prefix":p,"count":c,"sum":x}`.
pub fn window_row(start: u64, end: u64, prefix: &str, g: &Group) -> String {
    window_row_as(start, end, "prefix", prefix, g)
}

pub fn window_row_as(start: u64, end: u64, group_name: &str, group: &str, g: &Group) -> String {
    obj(&[
        ("window_start", J::from(start)),
        ("window_end", J::from(end)),
        (group_name, J::str(group)),
        ("count", g.count()),
        ("sum", g.sum()),
    ])
}

/// Session rows (count, sum of value) per group of `events`.
pub fn session_rows(events: &[Ev], gap: u64, group: impl Fn(&Ev) -> String) -> Vec<String> {
    session_rows_as(events, gap, "prefix", group)
}

pub fn session_rows_as(
    events: &[Ev],
    gap: u64,
    group_name: &str,
    group: impl Fn(&Ev) -> String,
) -> Vec<String> {
    let mut groups: BTreeMap<String, Vec<(u64, J)>> = BTreeMap::new();
    for e in events {
        groups
            .entry(group(e))
            .or_default()
            .push((e.ts, e.value.clone()));
    }
    let mut out = Vec::new();
    for (name, rows) in &groups {
        for ((start, end), g) in sessions(rows, gap) {
            out.push(window_row_as(start, end, group_name, name, &g));
        }
    }
    out
}
