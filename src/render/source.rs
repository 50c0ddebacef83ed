//! Sources: the store's changes, filtered, as rows of the events or the table view.
//!
//! The events view turns each change into one row, inserted at its batch's time and never
//! retracted. The table view retracts the key's previous row and inserts its new one, so it
//! holds exactly the live keys. In a windowed pipeline an inserted row that is late (see
//! `change::time`) goes to the late output as `{"late":true,..}` instead.

use differential_dataflow::AsCollection;
use timely::dataflow::Stream;

use super::chain::RowChain;
use crate::change::EventKind;
use crate::change::event::table_row;
use crate::change::time::is_late;
use crate::operators::fallible::{Lines, Rows, split_fallible3};
use crate::plan::{SourceDef, View};
use crate::store::Change;
use crate::value::Row;

/// Rows of `def`'s view through `chain` (the row-local steps that follow the source), its
/// late events when `lateness` is `Some(allowed_lateness)`, and the chain's error lines.
pub fn render_source<'scope>(
    changes: Stream<'scope, u64, Vec<Change>>,
    def: &SourceDef,
    lateness: Option<u64>,
    chain: &RowChain,
) -> (Rows<'scope>, Lines<'scope>, Lines<'scope>) {
    let def = def.clone();
    let chain = chain.clone();
    let names = def.view.schema().names();
    let bound = lateness.map(|l| l.saturating_add(def.max_out_of_orderness));
    let name = if chain.is_empty() {
        format!("Source({})", def.name)
    } else {
        format!("Source({}) | {}", def.name, chain.describe())
    };
    let (rows, late, errors) = split_fallible3(changes, &name, move |change: Change, time, out| {
        let event = &change.event;
        // NB: a seeded change is a key put back from a snapshot: a table row, not an event.
        if !def.admits(event.kind, &event.key) || (change.seeded && def.view == View::Events) {
            return;
        }
        let on_time = bound.is_none_or(|b| !is_late(event.ts, b, change.max_seen));
        let mut emit = |row: Row, diff: i64| {
            let ok = &mut *out.ok;
            chain.apply(
                row,
                diff > 0,
                &mut |row| ok.push((row, time, diff)),
                out.errors,
            );
        };
        let mut insert = |row: Row| {
            if on_time {
                emit(row, 1);
            } else {
                out.side.push(late_line(&row, &names));
            }
        };
        match def.view {
            View::Events => insert(event.to_event_row()),
            View::Table => {
                if event.kind != EventKind::Delete {
                    insert(table_row(&event.key, event.ts, event.seq, &event.new));
                }
                // NB: a row that was late never entered this view, so it is not retracted.
                if let Some(prev) = change.prev
                    && bound.is_none_or(|b| !is_late(prev.ts, b, prev.max_seen))
                {
                    emit(table_row(&event.key, prev.ts, prev.seq, &event.old), -1);
                }
            }
        }
    });
    (rows.as_collection(), late, errors)
}

fn late_line(row: &Row, names: &[String]) -> String {
    let mut line = String::from("{\"late\":true,");
    row.write_json_fields(names, &mut line);
    line.push('}');
    line
}
