//! Sources: the store's changes, filtered, as rows of the events or the table view.
//!
//! The events view turns each change into one row, inserted at its batch's time and never
//! retracted. The table view retracts the key's previous row and inserts its new one, so it
//! holds exactly the live keys. In a windowed pipeline an inserted row that is late (see
//! `change::time`) goes to the late output as `{"late":true,..}` instead.
//!
//! A source fills in only the fields its pipeline reads (see `plan::projection`); a late
//! row, or one that breaks the projection's assumptions, is built whole.
//!
//! Several pipelines mostly read one source, each in an operator of its own. An aggregate
//! that evaluates its source's rows in place ([`SourceRows::read_in_place`]) reads each
//! change's events row by reference, made once per change with the fields any such reader
//! of the worker's dataflow reads (`Change::events_row`). Decision: made once rather than
//! once per reader, since building and dropping a row was about 300 instructions per reader
//! and event (callgrind, `window_counts.toml`, whose four pipelines read one source); a
//! reader whose projection's assumptions the shared row breaks builds its own, whole.
//!
//! The readers' group keys and arguments that are not plain fields, and that cannot fail on
//! any row of the view (`Expr::infallible`), are evaluated once too, when the row is made,
//! and kept after the view's fields ([`SharedRows::derive`]): the same
//! `split_part(key, '_', 1)` in three pipelines of `window_counts.toml` cost about 260
//! instructions per pipeline and event. A reader then reads its value as a field. An
//! expression that could fail is left to each reader, whose error line it is.
//!
//! [`SourceRows`] is what a source makes of each change; [`render_source`] sends its rows
//! on, and an aggregate over the source evaluates them in the same operator instead (see
//! `render::fold` and `render::reduce`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use differential_dataflow::AsCollection;

use super::chain::{self, RowChain};
use crate::change::EventKind;
use crate::change::event::table_row_with;
use crate::change::time::is_late;
use crate::expr::Expr;
use crate::expr::Shape;
use crate::operators::fallible::{Lines, Rows, split_fallible3};
use crate::plan::projection::Projection;
use crate::plan::{SourceDef, View};
use crate::schema::pos;
use crate::store::{Change, ChangeStream};
use crate::value::{Row, Value};

/// Rows of `source`'s view through `chain` (the row-local steps that follow the source), its
/// late events, and the chain's error lines.
pub fn render_source<'scope>(
    changes: ChangeStream<'scope>,
    source: SourceRows,
    chain: &RowChain,
) -> (Rows<'scope>, Lines<'scope>, Lines<'scope>) {
    let chain = chain.clone();
    let name = match chain.is_empty() {
        true => source.name(),
        false => format!("{} | {}", source.name(), chain.describe()),
    };
    let (rows, late, errors) =
        split_fallible3(changes, &name, move |change: &Change, time, out| {
            let (ok, errors) = (&mut *out.ok, &mut *out.errors);
            let mut emit = |row: SourceRow, diff: i64| {
                let row = row.into_owned(usize::MAX);
                chain.apply(row, diff > 0, &mut |row| ok.push((row, time, diff)), errors);
            };
            source.rows(change, &mut emit, out.side);
        });
    (rows.as_collection(), late, errors)
}

/// A row a source hands on: its own, or a change's events row read in place, whose derived
/// values follow the view's fields (see [`SharedRows::derive`]).
pub enum SourceRow<'c> {
    Own(Row),
    Shared(&'c Row),
}

impl SourceRow<'_> {
    /// The row (the view's fields alone), copied if it is read in place.
    pub fn into_owned(self, width: usize) -> Row {
        match self {
            SourceRow::Own(row) => row,
            SourceRow::Shared(row) => Row(row.0[..width.min(row.0.len())].to_vec()),
        }
    }
}

/// What the in-place readers of a worker's dataflow share about the events rows: the fields
/// any of them reads (a bit per field), and the expressions whose values the rows carry
/// after the view's fields. Each reader adds its own when it is rendered, before the
/// dataflow runs.
#[derive(Default)]
pub struct SharedRows {
    fields: Cell<u64>,
    derived: RefCell<Vec<Expr>>,
    /// Each derived expression's place among them, by its printed form (its text, type and
    /// compiled form: two expressions that print alike compute alike).
    places: RefCell<HashMap<String, usize>>,
}

/// The worker's [`SharedRows`], one for all its sources.
pub type SharedFields = Rc<SharedRows>;

impl SharedRows {
    /// The place among the derived values of `expr`, an expression over the events view's
    /// fields, when it is worth deriving: not a leaf, and unable to fail on any row of the
    /// view (`shape(i)`: what field `i` holds).
    pub fn derive(&self, expr: &Expr, shape: &impl Fn(usize) -> Shape) -> Option<usize> {
        if expr.is_leaf() || expr.infallible(shape).is_none() {
            return None;
        }
        let mut places = self.places.borrow_mut();
        let mut derived = self.derived.borrow_mut();
        let place = *places.entry(format!("{expr:?}")).or_insert_with(|| {
            derived.push(expr.clone());
            derived.len() - 1
        });
        Some(place)
    }

    /// The events row of `change` with the shared fields, then the derived values.
    fn row_of(&self, change: &Change) -> Row {
        let derived = self.derived.borrow();
        // NB: room for the derived values from the start: growing the row copied it.
        let buffer = Vec::with_capacity(change.event.width() + derived.len());
        let mut row = event_row_in(change, self.fields.get(), buffer);
        let width = row.0.len();
        for expr in derived.iter() {
            match expr.eval(&row) {
                Ok(value) => row.0.push(value),
                // NB: `derive` proved it cannot fail; should it, the row carries no derived
                // values and each reader evaluates its own (and words its error).
                Err(_) => {
                    row.0.truncate(width);
                    break;
                }
            }
        }
        row
    }
}

/// What a source makes of each change: the rows of its view, and its late events.
pub struct SourceRows {
    def: SourceDef,
    /// Counts the changes the source admits on this worker.
    admitted: Arc<AtomicU64>,
    /// How far behind the largest time seen an insertion may be and still be on time.
    bound: Option<u64>,
    narrow: Narrow,
    names: Vec<String>,
    /// The fields of the shared events rows; read from once the source reads in place.
    shared: SharedFields,
    in_place: bool,
}

impl SourceRows {
    /// The rows of `def`'s view, with late events when `lateness` is
    /// `Some(allowed_lateness)`, filling in only the fields of `projection` when there is one.
    pub fn new(
        def: &SourceDef,
        admitted: Arc<AtomicU64>,
        lateness: Option<u64>,
        (projection, shared): (Option<Projection>, SharedFields),
    ) -> SourceRows {
        SourceRows {
            def: def.clone(),
            admitted,
            bound: lateness.map(|l| l.saturating_add(def.max_out_of_orderness)),
            narrow: Narrow::new(projection),
            names: def.view.schema().names(),
            shared,
            in_place: false,
        }
    }

    /// Hands on events rows read in place (see the module docs): for a reader that only
    /// reads its rows. Adds the fields this source reads to the shared rows' fields.
    pub fn read_in_place(mut self) -> SourceRows {
        if self.def.view == View::Events {
            let fields = &self.shared.fields;
            fields.set(fields.get() | self.narrow.mask());
            self.in_place = true;
        }
        self
    }

    /// The shared rows, when this source reads in place.
    pub fn shared_rows(&self) -> Option<&SharedRows> {
        self.in_place.then_some(&*self.shared)
    }

    /// The name of the source's operator.
    pub fn name(&self) -> String {
        format!("Source({})", self.def.name)
    }

    /// Hands each row `change` makes in the view to `emit` with its diff (1 inserted, -1
    /// retracted); a late insertion becomes a line in `late` instead.
    pub fn rows<'c>(
        &self,
        change: &'c Change,
        emit: &mut impl FnMut(SourceRow<'c>, i64),
        late: &mut Vec<String>,
    ) {
        let event = &change.event;
        let def = &self.def;
        // NB: a seeded change is a key put back from a snapshot: a table row, not an event.
        if !def.admits(event.kind, &event.key) || (change.seeded && def.view == View::Events) {
            return;
        }
        // NB: this worker's own counter, so a plain load and store.
        let admitted = &self.admitted;
        admitted.store(admitted.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let bound = self.bound;
        let on_time = bound.is_none_or(|b| !is_late(event.ts, b, change.max_seen));
        let narrow = &self.narrow;
        if on_time && self.in_place {
            let row = change.events_row.get_or_init(|| self.shared.row_of(change));
            if narrow.holds(row) {
                emit(SourceRow::Shared(row), 1);
                return;
            }
        }
        let mut insert = |row: Row| match on_time {
            true => emit(SourceRow::Own(row), 1),
            false => late.push(late_line(&row, &self.names)),
        };
        match def.view {
            View::Events => insert(narrow.row(on_time, |keep| event_row(change, keep))),
            View::Table => {
                if event.kind != EventKind::Delete {
                    let (ts, seq) = (event.ts, event.seq);
                    insert(narrow.row(on_time, |keep| {
                        table_row_with(&event.key, ts, seq, &event.new, keep)
                    }));
                }
                // NB: a row that was late never entered this view, so it is not retracted.
                if let Some(prev) = change.prev
                    && bound.is_none_or(|b| !is_late(prev.ts, b, prev.max_seen))
                {
                    let row = narrow.row(true, |keep| {
                        table_row_with(&event.key, prev.ts, prev.seq, &change.old(), keep)
                    });
                    emit(SourceRow::Own(row), -1);
                }
            }
        }
    }
}

/// The events view's row of `change` with the fields whose bit is set in `keep`; a deferred
/// `old` is decoded only when it is kept.
fn event_row(change: &Change, keep: u64) -> Row {
    event_row_in(change, keep, chain::spare())
}

/// [`event_row`] in the buffer `values`.
fn event_row_in(change: &Change, keep: u64, values: Vec<Value>) -> Row {
    let mut row = change.event.event_row_in(keep, values);
    if keep & (1 << pos::EVENT_OLD) != 0 && change.packed_old.is_some() {
        row.0[pos::EVENT_OLD] = change.old();
    }
    row
}

/// The fields a source fills in: a bit per field, and the projection that chose them.
struct Narrow(Option<(u64, Projection)>);

impl Narrow {
    fn new(projection: Option<Projection>) -> Narrow {
        Narrow(projection.map(|p| {
            let mask = (0..64)
                .filter(|i| p.keeps(*i))
                .fold(0u64, |m, i| m | 1 << i);
            (mask, p)
        }))
    }

    /// The fields a row of this source needs: all of them without a projection.
    fn mask(&self) -> u64 {
        self.0.as_ref().map_or(u64::MAX, |(mask, _)| *mask)
    }

    /// Whether `row`, which has every field of [`Self::mask`], holds what the projection
    /// assumed.
    fn holds(&self, row: &Row) -> bool {
        self.0
            .as_ref()
            .is_none_or(|(_, projection)| projection.holds(row))
    }

    /// The row `make` builds, narrowed when `narrow` and the narrowed row holds what the
    /// projection assumed; whole otherwise. `make` fills in field `i` when bit `i` is set.
    fn row(&self, narrow: bool, make: impl Fn(u64) -> Row) -> Row {
        if narrow && let Some((mask, projection)) = &self.0 {
            let row = make(*mask);
            if projection.holds(&row) {
                return row;
            }
        }
        make(u64::MAX)
    }
}

fn late_line(row: &Row, names: &[String]) -> String {
    let mut line = String::from("{\"late\":true,");
    row.write_json_fields(names, &mut line);
    line.push('}');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeEvent;
    use crate::change::shared_row::SharedRow;
    use crate::schema::Schema;

    fn change(key: &str, value: Value) -> Change {
        Change {
            event: ChangeEvent {
                seq: 7,
                ts: 1_000,
                kind: EventKind::Insert,
                key: key.into(),
                old: Value::Null,
                new: value,
                origin: None,
            },
            prev: None,
            max_seen: 1_000,
            seeded: false,
            packed_old: None,
            events_row: SharedRow::default(),
        }
    }

    fn compile(text: &str) -> Expr {
        Expr::compile(text, &Schema::events()).expect("expression")
    }

    /// Only expressions that cannot fail are derived; each is derived once however many
    /// readers ask; a derived value follows the view's fields and is the expression's.
    #[test]
    fn infallible_expressions_are_derived_once_after_the_fields() {
        let rows = SharedRows::default();
        rows.fields.set(u64::MAX);
        let shape = |i: usize| Shape::of_field(&Schema::events(), i, Shape::Any);
        let prefix = compile("split_part(key, '_', 1)");
        assert_eq!(rows.derive(&prefix, &shape), Some(0));
        assert_eq!(
            rows.derive(&compile("split_part(key, '_', 1)"), &shape),
            Some(0)
        );
        assert_eq!(
            rows.derive(&compile("key"), &shape),
            None,
            "a leaf is read as it is"
        );
        let part = compile("split_part(value, '_', 1)");
        assert_eq!(rows.derive(&part, &shape), None, "fails on a number");
        let row = rows.row_of(&change("ab_1", Value::Int(3)));
        let width = Schema::events().len();
        assert_eq!(row.0.len(), width + 1);
        assert_eq!(row.0[width], prefix.eval(&row).expect("prefix"));
        assert_eq!(row.0[width], Value::from("ab"));
    }

    /// Should a derived expression fail after all, the row carries no derived values, so
    /// each reader evaluates its own and words its error.
    #[test]
    fn a_row_whose_derived_expression_fails_carries_none() {
        let rows = SharedRows::default();
        rows.fields.set(u64::MAX);
        rows.derived.borrow_mut().push(compile("upper(key)"));
        rows.derived
            .borrow_mut()
            .push(compile("split_part(value, '_', 1)"));
        let width = Schema::events().len();
        assert_eq!(
            rows.row_of(&change("a", Value::from("x_y"))).0.len(),
            width + 2
        );
        assert_eq!(rows.row_of(&change("a", Value::Int(3))).0.len(), width);
    }
}
