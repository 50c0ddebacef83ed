//! Sources: the store's changes, filtered, as rows of the events or the table view.
//!
//! The events view turns each change into one row, inserted at its batch's time and never
//! retracted. The table view retracts the key's previous row and inserts its new one, so it
//! holds exactly the live keys. In a windowed pipeline an inserted row that is late (see
//! `change::time`) goes to the late output as `{"late":true,..}` instead.

use differential_dataflow::AsCollection;
use timely::dataflow::Stream;

use crate::change::EventKind;
use crate::change::event::table_row;
use crate::change::time::is_late;
use crate::operators::fallible::{Lines, Rows, split_fallible};
use crate::plan::{SourceDef, View};
use crate::store::Change;
use crate::value::Row;

/// Rows of `def`'s view, and its late events when `lateness` is `Some(allowed_lateness)`.
pub fn render_source<'scope>(
    changes: Stream<'scope, u64, Vec<Change>>,
    def: &SourceDef,
    lateness: Option<u64>,
) -> (Rows<'scope>, Lines<'scope>) {
    let def = def.clone();
    let names = def.view.schema().names();
    let bound = lateness.map(|l| l.saturating_add(def.max_out_of_orderness));
    let name = format!("Source({})", def.name);
    let (rows, late) = split_fallible(changes, &name, move |change: Change, time, out| {
        let event = &change.event;
        if !def.admits(event.kind, &event.key) {
            return;
        }
        let on_time = bound.is_none_or(|b| !is_late(event.ts, b, change.max_seen));
        let mut insert = |row: Row| {
            if on_time {
                out.ok.push((row, time, 1));
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
                    let row = table_row(&event.key, prev.ts, prev.seq, &event.old);
                    out.ok.push((row, time, -1));
                }
            }
        }
    });
    (rows.as_collection(), late)
}

fn late_line(row: &Row, names: &[String]) -> String {
    let mut line = String::from("{\"late\":true,");
    row.write_json_fields(names, &mut line);
    line.push('}');
    line
}
