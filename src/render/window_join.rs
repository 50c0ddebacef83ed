//! The window join (Flink's): rows of both sides with equal `window_start`, `window_end` and
//! keys, joined once their window has closed.
//!
//! Both sides are routed by `(window_start, window_end, keys..)` (see `join_sides`). Each
//! row is filed under its window's close time, `window_end + 1`, with a capability for it;
//! when both inputs' frontiers have passed that time, every key of the window is joined
//! (each side's rows consolidated first, so a row retracted before the close is gone), the
//! pairs are emitted at the close time and the window's state is dropped. Memory therefore
//! holds the open windows only. In an inner join, a window with no rows on one side gives no
//! rows; in a LEFT JOIN, each left row of a window whose key has no right row there comes out
//! once, at the close, with NULLs for the right side's fields (Flink's left window join: the
//! close is when it is known that no partner can come). A row that arrives after its window
//! closed goes to the late output.

use foldhash::HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::progress::frontier::MutableAntichain;

use differential_dataflow::AsCollection;

use crate::operators::by_time::HeldByTime;
use crate::operators::fallible::{Lines, Rows};
use crate::store::stable_hash;
use crate::value::{Row, Value};

use super::join_sides::{Keyed, Side, joined, prepare};

/// One window key's rows: the left side's and the right side's, with multiplicities.
#[derive(Default)]
pub struct Pair {
    left: Vec<(Row, i64)>,
    right: Vec<(Row, i64)>,
}

/// The keys of one window (all windows closing at one time).
pub type WindowKeys = HashMap<Row, Pair>;

/// Renders a window join; returns its rows, late lines and error lines.
pub fn render_window_join<'scope>(
    left: Rows<'scope>,
    right: Rows<'scope>,
    left_side: Side,
    right_side: Side,
) -> (Rows<'scope>, Lines<'scope>, Lines<'scope>) {
    use timely::dataflow::operators::Concatenate;
    // A LEFT JOIN pads an unmatched left row with a NULL per right field.
    let nulls = left_side
        .keep_null_keys
        .then(|| Row(vec![Value::Null; right_side.schema.len()]));
    let (left, left_late, left_errors) = prepare(left, left_side);
    let (right, right_late, right_errors) = prepare(right, right_side);
    let scope = left.scope();
    let by_key = || Exchange::new(|((key, _, _), _, _): &(Keyed, u64, i64)| stable_hash(key));
    type Out = CapacityContainerBuilder<Vec<(Row, u64, i64)>>;
    let rows = left.binary_frontier::<_, Out, _, _, _, _>(
        right,
        by_key(),
        by_key(),
        "WindowJoin",
        move |_cap, _info| {
            let mut open: HeldByTime<WindowKeys> = HeldByTime::default();
            let mut out = Vec::new();
            move |(left, left_frontier), (right, right_frontier), output| {
                left.for_each(|cap, data| {
                    for ((key, close, row), _t, d) in data.drain(..) {
                        let pair = open.at(&cap, close).entry(key).or_default();
                        pair.left.push((row, d));
                    }
                });
                right.for_each(|cap, data| {
                    for ((key, close, row), _t, d) in data.drain(..) {
                        let pair = open.at(&cap, close).entry(key).or_default();
                        pair.right.push((row, d));
                    }
                });
                let complete = |t: &u64| passed(left_frontier, t) && passed(right_frontier, t);
                while let Some((close, cap, keys)) = open.next_completed_where(complete) {
                    join_window(keys, close, nulls.as_ref(), &mut out);
                    output.session(&cap).give_container(&mut out);
                }
            }
        },
    );
    let late = scope.concatenate([left_late, right_late]);
    let errors = scope.concatenate([left_errors, right_errors]);
    (rows.as_collection(), late, errors)
}

fn passed(frontier: &MutableAntichain<u64>, time: &u64) -> bool {
    !frontier.less_equal(time)
}

/// The pairs of every key of a closed window, at `close`; with `nulls` (a LEFT JOIN), each
/// left row of a key without right rows joined with them.
pub fn join_window(
    keys: WindowKeys,
    close: u64,
    nulls: Option<&Row>,
    out: &mut Vec<(Row, u64, i64)>,
) {
    for (_, mut pair) in keys {
        consolidate(&mut pair.left);
        consolidate(&mut pair.right);
        if let Some(nulls) = nulls.filter(|_| pair.right.is_empty()) {
            out.extend(pair.left.iter().map(|(l, d)| (joined(l, nulls), close, *d)));
            continue;
        }
        for (l, dl) in &pair.left {
            for (r, dr) in &pair.right {
                out.push((joined(l, r), close, dl * dr));
            }
        }
    }
}

/// Sums the multiplicities of equal rows and drops those that cancel.
pub(super) fn consolidate(rows: &mut Vec<(Row, i64)>) {
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(Row, i64)> = Vec::with_capacity(rows.len());
    for (row, diff) in rows.drain(..) {
        match merged.last_mut() {
            Some((last, d)) if *last == row => *d += diff,
            _ => merged.push((row, diff)),
        }
    }
    merged.retain(|(_, d)| *d != 0);
    *rows = merged;
}
