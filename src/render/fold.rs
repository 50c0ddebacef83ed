//! The abelian aggregation front half in one operator: row-local steps, evaluation, window
//! assignment and per-batch pre-aggregation.
//!
//! For count, sum and avg every row becomes an [`AggDiff`] difference. Rather than pass each
//! row through an operator per stage (chain, prepare, windows, pre-aggregate), this operator
//! does all four per row and folds the difference straight into a map keyed by time and
//! group, reusing its key and argument buffers, so a row that falls into an existing group
//! allocates nothing. A row hashes its group's values once, and each of its windows by two
//! integers; a group's differences at its few times in a window (the insertion and the
//! release) sit under one entry. Each activation ends by handing the folded differences to
//! the running totals (`operators::total`) at the least capability it held.
//!
//! Fixed windows fold by pane first. Every window starts and ends on a multiple of
//! `gcd(size, slide)`, so all rows of one such pane fall into the same windows. A row is
//! folded into its pane (one lookup, one difference at its time), and only at the end of the
//! activation is each pane's difference added to its windows, at the times those windows
//! take it in and release it. A hopping window of four slides so costs a row one lookup,
//! not four lookups and eight differences. Sums are exact (see `operators::aggregate`), so
//! adding a pane's total gives what adding its rows one by one gave.
//!
//! A chain that ends in a map is read through, not run, when it can be
//! ([`AggregateSpec::fuse_last_map`]): the group, the arguments and the event time become
//! the map expressions they name, evaluated over the map's input, so the map's row is never
//! built, filled with clones and dropped again. A row that fails goes through the map and
//! the aggregate as written, which is cheap because it is rare, and gives the error line of
//! the step that failed, exactly as before. Decision: the map is fused only when every map
//! field the aggregate does not read is a field or a literal, so skipping it can drop no
//! row. `window_counts.toml` over 200 000 lines of the keyed stream, `-w 1`: callgrind
//! 2 945.6 M -> 2 829.0 M instructions.
//!
//! An aggregate straight over a source folds in the source's operator ([`fold_source`]):
//! each change's rows go to the folder as they are made, instead of into a container, a
//! channel and the fold's input. Late events and error lines leave as before, and the
//! operator is the source's (`Source(events) | Fold(..)`), so its figures are the source
//! node's in the metrics. `window_counts.toml`, same run: 2 749.4 M -> 2 685.9 M.

use differential_dataflow::difference::{Abelian, IsZero, Semigroup};
use foldhash::HashMap;
use hashbrown::HashTable;
use timely::Container;
use timely::container::DrainContainer;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::operators::aggregate::AggDiff;
use crate::operators::fallible::{Lines, RecordError, Rows, error_line};
use crate::operators::window::fixed::for_each_window;
use crate::plan::AggFunc;
use crate::value::{Row, Value, quick_hash};

use super::aggregate_spec::{AggregateSpec, FixedWindows};
use super::chain::{self, RowChain};
use super::source::{SourceRow, SourceRows};
use crate::store::{Change, ChangeStream};

/// Aggregate differences per group key, at differential times.
pub type Diffs<'scope> = Stream<'scope, u64, Vec<(Row, u64, AggDiff)>>;

/// Differences per (group, time) for the dataflow files' abelian aggregates, and error lines.
pub fn fold_abelian<'scope>(
    rows: Rows<'scope>,
    spec: &AggregateSpec,
    windows: Option<FixedWindows>,
) -> (Diffs<'scope>, Lines<'scope>) {
    let name = format!("Fold({})", spec.step());
    let folder = Folder::new(spec.clone(), windows);
    let fold_row =
        |(row, t, d): (Row, u64, i64), _, folder: &mut Folder, lines: &mut _, _: &mut _| {
            folder.add(row, t, d, lines);
        };
    let (diffs, _, errors) = fold_operator(rows.inner, name, folder, fold_row);
    (diffs, errors)
}

/// The rows of `source` folded as they are made, in the source's operator (see the module
/// doc): differences per (group, time), the source's late events, and error lines.
pub fn fold_source<'scope>(
    changes: ChangeStream<'scope>,
    source: SourceRows,
    spec: &AggregateSpec,
    windows: Option<FixedWindows>,
) -> (Diffs<'scope>, Lines<'scope>, Lines<'scope>) {
    let name = format!("{} | Fold({})", source.name(), spec.step());
    let mut folder = Folder::new(spec.clone(), windows);
    // NB: a fold with steps before it reads rows of its own (the steps make new ones).
    let source = match folder.in_place() {
        Some(spec) => {
            let source = source.read_in_place();
            if let Some(rows) = source.shared_rows() {
                spec.read_derived(rows);
            }
            source
        }
        None => source,
    };
    let fold_change =
        move |change: &Change, time, folder: &mut Folder, lines: &mut _, late: &mut _| {
            let mut add = |row: SourceRow, d| match row {
                SourceRow::Own(row) => folder.add(row, time, d, lines),
                SourceRow::Shared(row) => folder.add_in_place(row, time, d, lines),
            };
            source.rows(change, &mut add, late);
        };
    fold_operator(changes, name, folder, fold_change)
}

/// A row to fold, and whether it was read in place (with its derived values).
type RowIn<'r> = (&'r Row, bool);

/// The fold operator over any input: `logic` hands each record's rows to the folder (with
/// their times and diffs, and the error lines of the rows that fail) and may add side lines;
/// each activation ends by giving the folded differences at the least capability it held.
/// Outputs: the differences, the side lines, the error lines.
fn fold_operator<'scope, C, L>(
    input: Stream<'scope, u64, C>,
    name: String,
    mut folder: Folder,
    mut logic: L,
) -> (Diffs<'scope>, Lines<'scope>, Lines<'scope>)
where
    C: Container + DrainContainer,
    L: for<'a> FnMut(C::Item<'a>, u64, &mut Folder, &mut Vec<String>, &mut Vec<String>) + 'static,
{
    let mut builder = OperatorBuilder::new(name, input.scope());
    let mut input = builder.new_input(input, Pipeline);
    let (diff_output, diffs) = builder.new_output::<Vec<(Row, u64, AggDiff)>>();
    let (side_output, sides) = builder.new_output::<Vec<String>>();
    let (error_output, errors) = builder.new_output::<Vec<String>>();
    let mut diff_output = OutputBuilder::from(diff_output);
    let mut side_output = OutputBuilder::from(side_output);
    let mut error_output = OutputBuilder::from(error_output);
    builder.build(move |_capabilities| {
        let (mut lines, mut side) = (Vec::new(), Vec::new());
        move |_frontiers| {
            let mut diff_handle = diff_output.activate();
            let mut side_handle = side_output.activate();
            let mut error_handle = error_output.activate();
            let mut least: Option<Capability<u64>> = None;
            input.for_each(|cap, data| {
                let time = cap.least().copied().unwrap_or_default();
                for record in data.drain() {
                    logic(record, time, &mut folder, &mut lines, &mut side);
                }
                if !side.is_empty() {
                    side_handle.session(&cap).give_iterator(side.drain(..));
                }
                if !lines.is_empty() {
                    error_handle.session(&cap).give_iterator(lines.drain(..));
                }
                if let Some(cap) = cap.retain_least(0)
                    && least.as_ref().is_none_or(|l| cap.time() < l.time())
                {
                    least = Some(cap);
                }
            });
            if let Some(cap) = least {
                diff_handle.session(&cap).give_iterator(folder.drain());
            }
        }
    });
    (diffs, sides, errors)
}

/// The row-local chain, and what its rows are folded into.
struct Folder {
    /// The aggregate as written, with the row-local chain before it.
    spec: AggregateSpec,
    /// The aggregate read through the map that ends the chain, when it can be (see
    /// [`AggregateSpec::fuse_last_map`]).
    fused: Option<Fused>,
    fold: Fold,
}

/// A chain's last map folded into the aggregate: rows go through the steps before the map
/// (`spec`'s chain) and are folded by `spec`, which evaluates the map's expressions the
/// aggregate reads; a row `spec` fails on goes through `map` and the aggregate as written,
/// for its error line.
struct Fused {
    map: RowChain,
    spec: AggregateSpec,
}

impl Fused {
    /// Folds `row` by the fused spec, or, when that fails, through the map and `written`
    /// (the aggregate as written), whose error lines go to `failures`.
    fn fold(
        &self,
        fold: &mut Fold,
        written: &AggregateSpec,
        row: Row,
        (t, d): (u64, i64),
        failures: &mut Vec<String>,
    ) {
        if fold.fold_row(&self.spec, (&row, false), t, d).is_ok() {
            chain::recycle(row);
            return;
        }
        self.fold_as_written(fold, written, row, (t, d), failures);
    }

    /// Folds `row`, which the fused spec failed on, through the map and `written`.
    fn fold_as_written(
        &self,
        fold: &mut Fold,
        written: &AggregateSpec,
        row: Row,
        (t, d): (u64, i64),
        failures: &mut Vec<String>,
    ) {
        let mut map_failures = Vec::new();
        let fold_mapped = &mut |mapped: Row| {
            fold.fold_or_report(written, (&mapped, false), (t, d), failures);
            chain::recycle(mapped);
        };
        self.map.apply(row, d > 0, fold_mapped, &mut map_failures);
        failures.append(&mut map_failures);
    }
}

/// Per-activation state: the folded differences and reusable buffers.
struct Fold {
    windows: Option<FixedWindows>,
    /// The width of a pane: `gcd(size, slide)` of the windows (see the module doc).
    pane: u64,
    args: Vec<Value>,
    /// The group's values.
    key: Vec<Value>,
    folded: Folded,
}

/// Folded differences per group and window. A row finds its group with one hash of the
/// group's values, then each of its windows with a hash of two integers (a hopping window
/// puts a row in several windows of one group).
#[derive(Default)]
struct Folded {
    /// Group numbers by [`quick_hash`] of their values (the values are in `keys`).
    groups: HashTable<usize>,
    /// Group number → group values.
    keys: Vec<Row>,
    /// (group number, window start) → slot.
    windows: HashMap<(usize, i64), usize>,
    slots: Vec<Slot>,
}

/// One group's differences in one window (`None` when the aggregate has no window). While
/// rows are folded, a windowed aggregate's slots are panes; the drain turns them into windows
/// ([`Folded::panes_into_windows`]).
struct Slot {
    group: usize,
    window: Option<(i64, i64)>,
    times: AtTimes,
}

impl Folded {
    /// The number of the group with values `key`, added if new.
    fn group(&mut self, key: &[Value]) -> usize {
        let hash = quick_hash(key);
        let keys = &self.keys;
        if let Some(&group) = self.groups.find(hash, |&group| keys[group].0 == key) {
            return group;
        }
        let group = self.keys.len();
        self.keys.push(Row(key.to_vec()));
        let keys = &self.keys;
        self.groups
            .insert_unique(hash, group, |&group| quick_hash(&keys[group].0));
        group
    }

    /// The differences of `group` in `window`, added if new.
    fn slot(&mut self, group: usize, window: Option<(i64, i64)>) -> &mut AtTimes {
        let start = window.map_or(0, |(start, _)| start);
        let slots = &mut self.slots;
        let at = *self.windows.entry((group, start)).or_insert_with(|| {
            slots.push(Slot {
                group,
                window,
                times: AtTimes::default(),
            });
            slots.len() - 1
        });
        &mut self.slots[at].times
    }

    /// Replaces the slots of panes by those of the `windows` each pane falls into: a pane's
    /// difference at `t` enters a window at its insertion time and leaves at its release.
    fn panes_into_windows(&mut self, windows: FixedWindows) {
        let panes = std::mem::take(&mut self.slots);
        self.windows.clear();
        for pane in panes {
            let Some((pane_start, _)) = pane.window else {
                continue;
            };
            for_each_window(
                pane_start as u64,
                windows.size,
                windows.slide,
                |start, end| {
                    let times = self.slot(pane.group, Some((start as i64, end as i64)));
                    for (t, diff) in &pane.times.0 {
                        let (insert, release) = windows.timing.contribution_times(*t, end);
                        times.add_diff(insert, diff.clone());
                        let mut retraction = diff.clone();
                        retraction.negate();
                        times.add_diff(release, retraction);
                    }
                },
            );
        }
    }

    /// The differences that are not zero, keyed `[window_start, window_end, group..]` (or by
    /// the group alone), leaving the folder empty.
    fn drain(&mut self) -> impl Iterator<Item = (Row, u64, AggDiff)> + '_ {
        let keys = std::mem::take(&mut self.keys);
        self.groups.clear();
        self.windows.clear();
        self.slots.drain(..).flat_map(move |slot| {
            let group = &keys[slot.group].0;
            let key = match slot.window {
                Some((start, end)) => {
                    let mut values = Vec::with_capacity(2 + group.len());
                    values.extend([Value::Int(start), Value::Int(end)]);
                    values.extend(group.iter().cloned());
                    Row(values)
                }
                None => Row(group.clone()),
            };
            slot.times.into_diffs(key)
        })
    }
}

/// One group's folded differences, per time (a group sees few distinct times per
/// activation: the batch's, and its window's release).
#[derive(Default)]
struct AtTimes(Vec<(u64, AggDiff)>);

impl AtTimes {
    fn add(&mut self, t: u64, funcs: &[AggFunc], args: &[Value], d: i64) {
        match self.0.iter_mut().find(|(time, _)| *time == t) {
            Some((_, acc)) => acc.add_row(funcs, args, d),
            None => {
                let mut acc = AggDiff::default();
                acc.add_row(funcs, args, d);
                self.0.push((t, acc));
            }
        }
    }

    fn add_diff(&mut self, t: u64, diff: AggDiff) {
        match self.0.iter_mut().find(|(time, _)| *time == t) {
            Some((_, acc)) => acc.plus_equals(&diff),
            None => self.0.push((t, diff)),
        }
    }

    /// The differences that are not zero, each with its own copy of `key`.
    fn into_diffs(self, key: Row) -> impl Iterator<Item = (Row, u64, AggDiff)> {
        let mut diffs: Vec<(u64, AggDiff)> =
            self.0.into_iter().filter(|(_, d)| !d.is_zero()).collect();
        let last = diffs.pop();
        let copies = diffs.into_iter().map({
            let key = key.clone();
            move |(t, diff)| (key.clone(), t, diff)
        });
        copies.chain(last.map(|(t, diff)| (key, t, diff)))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Folder {
    fn new(spec: AggregateSpec, windows: Option<FixedWindows>) -> Folder {
        let fused = spec
            .fuse_last_map()
            .map(|(fused, map)| Fused { map, spec: fused });
        Folder {
            spec,
            fused,
            fold: Fold {
                pane: windows.map_or(1, |w| gcd(w.size, w.slide).max(1)),
                windows,
                args: Vec::new(),
                key: Vec::new(),
                folded: Folded::default(),
            },
        }
    }

    /// Runs `row` (at time `t`, multiplicity `d`) through the chain and folds what comes out
    /// (through the fused map when there is one, see [`Fused`]).
    fn add(&mut self, row: Row, t: u64, d: i64, lines: &mut Vec<String>) {
        let Folder { spec, fused, fold } = self;
        let mut failures = Vec::new();
        match fused {
            Some(fused) => fused.spec.chain().apply(
                row,
                d > 0,
                &mut |row| fused.fold(fold, spec, row, (t, d), &mut failures),
                lines,
            ),
            None => spec.chain().apply(
                row,
                d > 0,
                &mut |row| {
                    fold.fold_or_report(spec, (&row, false), (t, d), &mut failures);
                    chain::recycle(row);
                },
                lines,
            ),
        }
        lines.append(&mut failures);
    }

    /// The spec that folds rows read in place, where they are: the fused one, or the
    /// aggregate as written, when no step comes before the fold.
    fn in_place(&mut self) -> Option<&mut AggregateSpec> {
        match &mut self.fused {
            Some(fused) => fused.spec.chain().is_empty().then_some(&mut fused.spec),
            None => self.spec.chain().is_empty().then_some(&mut self.spec),
        }
    }

    /// [`Self::add`] for a row read in place, with its derived values: folded where it is
    /// (the source reads in place only for a folder with [`Self::in_place`]).
    fn add_in_place(&mut self, row: &Row, t: u64, d: i64, lines: &mut Vec<String>) {
        let Folder { spec, fused, fold } = self;
        match fused {
            Some(fused) => {
                if fold.fold_row(&fused.spec, (row, true), t, d).is_err() {
                    let width = fused.spec.input_width();
                    let own = SourceRow::Shared(row).into_owned(width);
                    fused.fold_as_written(fold, spec, own, (t, d), lines);
                }
            }
            None => fold.fold_or_report(spec, (row, true), (t, d), lines),
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = (Row, u64, AggDiff)> + '_ {
        self.fold.drain()
    }
}

impl Fold {
    /// Folds `row` by `spec`; a failure on an insertion becomes an error line in `failures`.
    fn fold_or_report(
        &mut self,
        spec: &AggregateSpec,
        row: RowIn,
        (t, d): (u64, i64),
        failures: &mut Vec<String>,
    ) {
        if let Err(error) = self.fold_row(spec, row, t, d)
            && d > 0
        {
            failures.push(error_line(spec.step(), &error));
        }
    }

    fn fold_row(
        &mut self,
        spec: &AggregateSpec,
        (row, derived): RowIn,
        t: u64,
        d: i64,
    ) -> Result<(), RecordError> {
        let Fold {
            windows,
            pane,
            args,
            key,
            folded,
        } = self;
        key.clear();
        args.clear();
        let in_place = spec.group_in_place(row, derived);
        let group = in_place.is_none().then_some(&mut *key);
        let ts = spec.evaluate_into(row, group, args, derived)?;
        let funcs = spec.funcs();
        let args = &args[1..];
        let group = folded.group(in_place.unwrap_or(key));
        let window = windows.map(|_| {
            let start = ts - ts % *pane;
            (start as i64, start.saturating_add(*pane) as i64)
        });
        folded.slot(group, window).add(t, funcs, args, d);
        Ok(())
    }

    /// The folded differences that are not zero, leaving the folder empty.
    fn drain(&mut self) -> impl Iterator<Item = (Row, u64, AggDiff)> + '_ {
        if let Some(windows) = self.windows {
            self.folded.panes_into_windows(windows);
        }
        self.folded.drain()
    }
}
