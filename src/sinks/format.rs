//! Output rows as JSON Lines, in the flat format of DESIGN §8.
//!
//! A pipeline's updates at one time are consolidated first, so a row that appears and
//! disappears within a batch is never shown. Then:
//!
//! - **append-only** pipelines (events through map/filter) write each row as it is;
//! - **keyed** pipelines (aggregates; the key is the window and group fields) write a
//!   changelog: `{"op":"upsert",..}` for a key's new row, `{"op":"delete",..}` when a key's
//!   row goes away. A `final` window's first emission at its close is written as the plain
//!   row, since that is its result; a correction within the allowed lateness is an upsert;
//! - anything else (a map over the table view, a join) writes `op` `upsert`/`delete` per row.

use std::fmt::Write as _;

use super::row_sort::sort_by_row;
use crate::operators::window::WindowTiming;
use crate::operators::window::session::group_hash;
use crate::plan::{Emission, Node, PipelineDef, WindowKind};
use crate::store::stable_hash;
use crate::value::{JsonKeys, Row};

/// How a pipeline's updates become lines.
#[derive(Clone, Debug)]
pub struct RowFormat {
    names: Vec<String>,
    keys: JsonKeys,
    mode: Mode,
    raw: bool,
}

#[derive(Clone, Debug)]
enum Mode {
    Append,
    Keyed {
        key_len: usize,
        final_window: Option<WindowTiming>,
        /// A session window's rows, keyed `window_start, window_end, group..`.
        sessions: bool,
    },
    RowChangelog,
}

impl RowFormat {
    pub fn for_pipeline(pipeline: &PipelineDef) -> RowFormat {
        let names = pipeline.schema().names();
        let mode = match &pipeline.node {
            Node::Aggregate { window, .. } => Mode::Keyed {
                key_len: pipeline.key_fields(),
                final_window: window
                    .filter(|w| w.emission == Emission::Final)
                    .map(|w| WindowTiming::of(&w)),
                sessions: window.is_some_and(|w| matches!(w.kind, WindowKind::Session { .. }))
                    && names.starts_with(&["window_start".into(), "window_end".into()]),
            },
            node if node.is_append_only() => Mode::Append,
            _ => Mode::RowChangelog,
        };
        RowFormat {
            keys: JsonKeys::new(&names),
            names,
            mode,
            raw: false,
        }
    }

    /// Writes every update as `{"diff":..,"time":..,<row>}` instead (the raw form).
    pub fn raw(mut self) -> RowFormat {
        self.raw = true;
        self
    }

    /// How many leading fields identify a row for consolidation: the key of a keyed
    /// changelog, the whole row otherwise. The sink routes rows by their hash, so every update
    /// of one key meets on one worker (a join's retraction may be computed elsewhere).
    pub fn identity_len(&self) -> usize {
        match &self.mode {
            Mode::Keyed { key_len, .. } => *key_len,
            Mode::Append | Mode::RowChangelog => self.names.len(),
        }
    }

    /// Whether a row may be written by the worker that made it: an append-only pipeline's
    /// rows are never retracted, and equal rows give a line each however they are split
    /// between workers (the raw form, which writes a time's equal rows as one line with
    /// their summed diff, still brings them together).
    pub fn writes_where_made(&self) -> bool {
        matches!(self.mode, Mode::Append) && !self.raw
    }

    /// The hash that picks the worker writing `row`: its identity's, or for a session
    /// window its group's as the session operator placed it (a row of one session meets
    /// the others of its key either way, and stays on the worker that made it).
    pub fn route_hash(&self, row: &Row) -> u64 {
        let identity = &row.0[..self.identity_len().min(row.0.len())];
        match &self.mode {
            Mode::Keyed { sessions: true, .. } if identity.len() > 2 => group_hash(&identity[2..]),
            _ => stable_hash(identity),
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Appends the lines for the updates at `time` (consolidated here) to `out`; returns how
    /// many lines it wrote.
    pub fn format_time(&self, time: u64, updates: &mut Vec<(Row, i64)>, out: &mut String) -> usize {
        consolidate(updates);
        if self.raw {
            for (row, diff) in updates.iter() {
                let _ = write!(out, "{{\"diff\":{diff},\"time\":{time},");
                row.write_json_keyed(&self.keys, out);
                out.push_str("}\n");
            }
            return updates.len();
        }
        match &self.mode {
            Mode::Append => self.append_lines(updates, out),
            Mode::RowChangelog => {
                // NB: equal rows (two keys mapped alike) keep their multiplicity, a line each.
                let mut lines = 0;
                for (row, diff) in updates.iter() {
                    let op = if *diff > 0 { "upsert" } else { "delete" };
                    for _ in 0..diff.unsigned_abs() {
                        self.op_line(op, row, out);
                        lines += 1;
                    }
                }
                lines
            }
            Mode::Keyed {
                key_len,
                final_window,
                ..
            } => self.keyed_lines(time, *key_len, final_window.as_ref(), updates, out),
        }
    }

    fn append_lines(&self, updates: &[(Row, i64)], out: &mut String) -> usize {
        let mut lines = 0;
        for (row, diff) in updates {
            if *diff < 0 {
                self.op_line("delete", row, out);
                lines += 1;
                continue;
            }
            for _ in 0..*diff {
                self.object_line(row, out);
                lines += 1;
            }
        }
        lines
    }

    fn keyed_lines(
        &self,
        time: u64,
        key_len: usize,
        final_window: Option<&WindowTiming>,
        updates: &[(Row, i64)],
        out: &mut String,
    ) -> usize {
        let mut lines = 0;
        let mut i = 0;
        while i < updates.len() {
            let key = &updates[i].0.0[..key_len.min(updates[i].0.0.len())];
            let mut j = i;
            while j < updates.len() && updates[j].0.0.starts_with(key) {
                j += 1;
            }
            let group = &updates[i..j];
            let inserted = group.iter().rev().find(|(_, d)| *d > 0);
            let retracted = group.iter().any(|(_, d)| *d < 0);
            match inserted {
                Some((row, _)) => {
                    let first_emission = !retracted
                        && final_window.is_some_and(|w| {
                            let end = row.get(1).as_i64().unwrap_or(0).max(0) as u64;
                            w.emit_time(end) == time
                        });
                    if first_emission {
                        self.object_line(row, out);
                    } else {
                        self.op_line("upsert", row, out);
                    }
                }
                None => self.op_line("delete", &group[0].0, out),
            }
            lines += 1;
            i = j;
        }
        lines
    }

    fn object_line(&self, row: &Row, out: &mut String) {
        out.push('{');
        row.write_json_keyed(&self.keys, out);
        out.push_str("}\n");
    }

    fn op_line(&self, op: &str, row: &Row, out: &mut String) {
        let _ = write!(out, "{{\"op\":\"{op}\",");
        row.write_json_keyed(&self.keys, out);
        out.push_str("}\n");
    }
}

/// Sorts updates and sums the diffs of equal rows, dropping zeros.
pub fn consolidate(updates: &mut Vec<(Row, i64)>) {
    // NB: equal rows are summed, so their order among themselves cannot show.
    sort_by_row(updates);
    let mut write = 0;
    for read in 0..updates.len() {
        if write > 0 && updates[write - 1].0 == updates[read].0 {
            updates[write - 1].1 += updates[read].1;
        } else {
            updates.swap(write, read);
            write += 1;
        }
    }
    updates.truncate(write);
    updates.retain(|(_, d)| *d != 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn consolidation_cancels_and_sums() {
        let a = Row(vec![Value::Int(1)]);
        let b = Row(vec![Value::Int(2)]);
        let mut updates = vec![
            (b.clone(), 1),
            (a.clone(), 1),
            (b.clone(), 2),
            (a.clone(), -1),
        ];
        consolidate(&mut updates);
        assert_eq!(updates, vec![(b, 3)]);
    }

    #[test]
    fn consolidation_by_prefix_is_the_plain_sort_summed() {
        let mut rng = crate::rng::Rng::new(3, 0);
        let strings = [
            "",
            "a",
            "abcdefg",
            "abcdefg\0",
            "abcdefgh",
            "abcdefgi",
            "b",
            "order_123456",
            "order_123457",
            "order_12345",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "abcdefghijklmnopqrstuvwxyz0123456780",
        ];
        let field = |rng: &mut crate::rng::Rng| match rng.below(4) {
            0 => Value::Int(rng.below(5) as i64 - 2),
            1 => Value::str(*rng.pick(&strings)),
            2 => Value::Float(crate::value::F64(rng.below(3) as f64 - 1.0)),
            _ => Value::Null,
        };
        for _ in 0..50 {
            let count = rng.below(1200) as usize;
            let mut updates: Vec<(Row, i64)> = (0..count)
                .map(|_| {
                    let width = rng.below(4) as usize;
                    let row = Row((0..width).map(|_| field(&mut rng)).collect());
                    (row, rng.below(5) as i64 - 2)
                })
                .collect();
            let mut expected = updates.clone();
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            let mut summed: Vec<(Row, i64)> = Vec::new();
            for (row, diff) in expected {
                match summed.last_mut() {
                    Some((last, sum)) if *last == row => *sum += diff,
                    _ => summed.push((row, diff)),
                }
            }
            summed.retain(|(_, diff)| *diff != 0);
            consolidate(&mut updates);
            assert_eq!(updates, summed);
        }
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;
    use crate::builder::{Agg, Pipeline, PlanBuilder, Window};
    use crate::store::{key_hash, stable_hash};
    use crate::value::Value;

    fn format_of(window: Window) -> RowFormat {
        let pipeline = Pipeline::from_events("p")
            .window(window)
            .group_by(["key"])
            .aggregate([Agg::count("count")]);
        let plan = PlanBuilder::new().pipeline(pipeline).build().expect("plan");
        RowFormat::for_pipeline(&plan.pipelines[0])
    }

    fn row(start: i64, end: i64, key: &str, count: i64) -> Row {
        Row(vec![
            Value::Int(start),
            Value::Int(end),
            Value::from(key),
            Value::Int(count),
        ])
    }

    #[test]
    fn only_an_append_only_pipeline_in_its_plain_form_is_written_where_it_is_made() {
        let pipeline = Pipeline::from_events("a").map([("k", "key")]);
        let plan = PlanBuilder::new().pipeline(pipeline).build().expect("plan");
        let append = RowFormat::for_pipeline(&plan.pipelines[0]);
        assert!(append.writes_where_made());
        assert!(
            !append.raw().writes_where_made(),
            "raw lines sum equal rows"
        );
        assert!(!format_of(Window::session(500)).writes_where_made());
    }

    #[test]
    fn session_rows_go_where_their_key_is_and_other_windows_by_their_identity() {
        let sessions = format_of(Window::session(500));
        // Every row of a key, whatever its bounds and count, routes as the store routes the key.
        for (start, end, count) in [(0, 500, 1), (900, 1700, 2), (900, 1700, 3)] {
            let r = row(start, end, "user_7", count);
            assert_eq!(sessions.route_hash(&r), key_hash("user_7"));
        }
        let tumbling = format_of(Window::tumbling(1000));
        let r = row(0, 1000, "user_7", 4);
        assert_eq!(tumbling.route_hash(&r), stable_hash(&r.0[..3]));
        assert_eq!(
            tumbling.route_hash(&r),
            tumbling.route_hash(&row(0, 1000, "user_7", 9)),
            "updates of one window and key meet"
        );
    }
}
