//! The window top-N (Flink's): a top-N partitioned by the window of rows that come in whole
//! windows (`plan::windowed`), ranked once per window, at its close, and then forgotten.
//!
//! Each prepared row (see `top_n::prepare`) is filed with a capability under its window's
//! close time, `window_end + 1` (as the window join files its rows), in its partition. When
//! the input frontier passes that time every partition of the window is consolidated, ranked
//! by the same [`Ranker`] as the retracting top-N, its rows emitted at the close time, and its
//! state dropped: memory holds the open windows only, and the rows are those the retracting
//! top-N would settle on, emitted once. NB: a row that came after its close (which the plan
//! rules out) is filed at its own time instead, so it is ranked, not lost.

use foldhash::HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;

use differential_dataflow::AsCollection;

use crate::operators::by_time::HeldByTime;
use crate::operators::fallible::{Lines, Rows};
use crate::store::stable_hash;
use crate::value::{Row, Value};

use super::top_n::{Keyed, Ranker, TopNSpec, prepare};
use super::window_join::consolidate;

/// The partitions of the windows closing at one time, each with its rows' multiplicities.
type Partitions = HashMap<Row, Vec<(Row, i64)>>;

/// Renders a window top-N whose input rows have `window_end` at that position.
pub fn render_window_top_n<'scope>(
    rows: Rows<'scope>,
    spec: TopNSpec,
    window_end: usize,
) -> (Rows<'scope>, Lines<'scope>) {
    let ranker = Ranker::of(&spec);
    let end_at = ranker.width + window_end;
    let (keyed, errors) = prepare(rows, spec);
    let by_partition = Exchange::new(|((key, _), _, _): &(Keyed, u64, i64)| stable_hash(key));
    type Out = CapacityContainerBuilder<Vec<(Row, u64, i64)>>;
    let rows = keyed.unary_frontier::<Out, _, _, _>(by_partition, "WindowTopN", move |_, _| {
        let mut open: HeldByTime<Partitions> = HeldByTime::default();
        let mut out = Vec::new();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                let arrived = cap.least().copied().unwrap_or_default();
                for ((key, value), _t, d) in data.drain(..) {
                    let close = close_time(&value, end_at).max(arrived);
                    let rows = open.at(&cap, close).entry(key).or_default();
                    rows.push((value, d));
                }
            });
            let complete = |t: &u64| !frontier.less_equal(t);
            while let Some((close, cap, partitions)) = open.next_completed_where(complete) {
                rank_window(&ranker, partitions, close, &mut out);
                output.session(&cap).give_container(&mut out);
            }
        }
    });
    (rows.as_collection(), errors)
}

/// The time a row's window closes, `window_end + 1` (0 when the field is not a time, so the
/// row is filed at its own time).
fn close_time(value: &Row, end_at: usize) -> u64 {
    match value.get(end_at) {
        Value::Int(end) if *end >= 0 => (*end as u64).saturating_add(1),
        _ => 0,
    }
}

/// The kept rows of every partition of a closed window, at `close`, order keys cut off.
fn rank_window(
    ranker: &Ranker,
    partitions: Partitions,
    close: u64,
    out: &mut Vec<(Row, u64, i64)>,
) {
    let mut kept = Vec::new();
    for (_, mut rows) in partitions {
        consolidate(&mut rows);
        let view: Vec<(&Row, i64)> = rows.iter().map(|(row, d)| (row, *d)).collect();
        ranker.rank(&view, &mut kept);
        for (row, d) in kept.drain(..) {
            out.push((Row(row.0[ranker.width..].to_vec()), close, d));
        }
    }
}
