//! The interval join of two event streams (Flink's): each pair of rows with equal keys whose
//! event times satisfy `left.ts - right.ts` within `[lower, upper]`, found exactly once.
//!
//! Both sides are routed by key. A row that arrives probes the other side's held rows of its
//! key, emits a joined row for every partner in its interval, and is then held for the
//! partners still to come. The joined row is stamped with the later of the two rows' batch
//! times, so its time does not depend on which of them the operator saw first.
//!
//! **State release.** A right row that arrives at time `t` has `ts >= t` (an on-time row is
//! never behind its batch's watermark; see `change::time` and `join_sides`). A left row with
//! time `L` only matches right rows with `ts <= L - lower`, so once the right input's frontier
//! is past `L - lower` no future partner exists and the row is dropped; a right row `R` goes
//! once the left frontier is past `R + upper`. Memory therefore holds about
//! `upper - lower` plus the out-of-orderness worth of rows, however long the stream.
//!
//! **Late rows** (Flink's rule). A row behind the watermark could meet a partner whose state
//! is already gone, and whether it were gone would depend on batching. So such a row never
//! joins: below a source it is late where the source reads it (lowering marks both sides'
//! sources), and a row that reaches the join through another pipeline is tested against its
//! batch's watermark; either way it goes to the pipeline's late output. Every row that is not
//! late finds all its partners, because none of them can have been released yet.
//!
//! **LEFT JOIN** (Flink's outer interval join). A left row that no right row matched is
//! written once, with NULLs for the right side's fields, when it is released: no partner
//! can come any more. It is stamped with the later of its batch time and its release time
//! (`ts - lower + 1`), both functions of the row, so its time is the same however the input
//! is batched. Until then the operator holds a capability for the row's batch time: the
//! join's output frontier waits for the interval, as Flink's watermark does.

use std::collections::BTreeMap;

use foldhash::HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::progress::frontier::MutableAntichain;

use differential_dataflow::AsCollection;

use timely::dataflow::operators::Capability;

use crate::operators::by_time::DelayCapability;
use crate::operators::fallible::{Lines, Rows};
use crate::operators::state_gauge::StateGauge;
use crate::store::stable_hash;
use crate::value::{Row, Value};

use super::join_sides::{Keyed, Side, joined, prepare};

/// What render needs to know about one interval join.
pub struct IntervalJoinSpec {
    pub left: Side,
    pub right: Side,
    pub lower: i64,
    pub upper: i64,
    /// A LEFT JOIN: an unmatched left row is written with NULLs for the right side.
    pub left_outer: bool,
}

/// Renders an interval join; returns its rows, late lines and error lines.
pub fn render_interval_join<'scope>(
    left: Rows<'scope>,
    right: Rows<'scope>,
    spec: IntervalJoinSpec,
) -> (Rows<'scope>, Lines<'scope>, Lines<'scope>) {
    use timely::dataflow::operators::Concatenate;
    let outer = spec
        .left_outer
        .then(|| Row(vec![Value::Null; spec.right.schema.len()]));
    let (left, left_late, left_errors) = prepare(left, spec.left);
    let (right, right_late, right_errors) = prepare(right, spec.right);
    let scope = left.scope();
    let bounds = Bounds {
        lower: spec.lower,
        upper: spec.upper,
    };

    let by_key = || Exchange::new(|((key, _, _), _, _): &(Keyed, u64, i64)| stable_hash(key));
    type Out = CapacityContainerBuilder<Vec<(Row, u64, i64)>>;
    let rows = left.binary_frontier::<_, Out, _, _, _, _>(
        right,
        by_key(),
        by_key(),
        "IntervalJoin",
        move |_cap, info| {
            let mut state = IntervalState::new(bounds).left_outer(outer.is_some());
            let gauge = StateGauge::for_operator(info.global_id);
            let mut out = Vec::new();
            // NB: a LEFT JOIN's held left rows, by batch time: a capability for the time and
            // how many rows of it are held.
            let mut waiting: BTreeMap<u64, (Capability<u64>, usize)> = BTreeMap::new();
            move |(left, left_frontier), (right, right_frontier), output| {
                left.for_each(|cap, data| {
                    for (keyed, t, d) in data.drain(..) {
                        if outer.is_some() {
                            waiting.entry(t).or_insert_with(|| (cap.delayed_to(t), 0)).1 += 1;
                        }
                        state.arrive(Which::Left, keyed, t, d, &mut out);
                    }
                    output.session(&cap).give_container(&mut out);
                });
                right.for_each(|cap, data| {
                    for (keyed, t, d) in data.drain(..) {
                        state.arrive(Which::Right, keyed, t, d, &mut out);
                    }
                    output.session(&cap).give_container(&mut out);
                });
                let released =
                    state.release(frontier_of(left_frontier), frontier_of(right_frontier));
                if let Some(nulls) = &outer {
                    for held in released {
                        let Some((cap, rows)) = waiting.get_mut(&held.time) else {
                            continue;
                        };
                        if !held.matched {
                            let time = held.time.max(held.release);
                            let row = joined(&held.row, nulls);
                            output
                                .session(&cap.delayed_to(time))
                                .give((row, time, held.diff));
                        }
                        *rows -= 1;
                        if *rows == 0 {
                            waiting.remove(&held.time);
                        }
                    }
                }
                if let Some(gauge) = &gauge {
                    gauge.set(state.len());
                }
            }
        },
    );
    let late = scope.concatenate([left_late, right_late]);
    let errors = scope.concatenate([left_errors, right_errors]);
    (rows.as_collection(), late, errors)
}

/// The earliest time an input may still send, `u64::MAX` once it is done.
fn frontier_of(frontier: &MutableAntichain<u64>) -> u64 {
    frontier.frontier().first().copied().unwrap_or(u64::MAX)
}

/// `left.ts - right.ts` within `[lower, upper]`.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub lower: i64,
    pub upper: i64,
}

impl Bounds {
    fn matches(&self, left_ts: u64, right_ts: u64) -> bool {
        let d = left_ts as i128 - right_ts as i128;
        (self.lower as i128..=self.upper as i128).contains(&d)
    }

    /// The first frontier of the other input at which a held row can no longer match.
    fn release_time(&self, which: Which, ts: u64) -> u64 {
        let last = match which {
            Which::Left => ts as i128 - self.lower as i128,
            Which::Right => ts as i128 + self.upper as i128,
        };
        u64::try_from((last + 1).max(0)).unwrap_or(u64::MAX)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Left,
    Right,
}

/// A held row: its event time, batch time, the row and its multiplicity, when it goes, and
/// whether a row of the other side matched it.
pub struct Held {
    ts: u64,
    pub time: u64,
    pub row: Row,
    pub diff: i64,
    pub release: u64,
    pub matched: bool,
}

/// One side's held rows by key, and the keys to look at when a time is released.
#[derive(Default)]
struct SideState {
    rows: HashMap<Row, Vec<Held>>,
    expiry: BTreeMap<u64, Vec<Row>>,
    len: usize,
}

impl SideState {
    fn hold(&mut self, key: Row, held: Held) {
        self.expiry
            .entry(held.release)
            .or_default()
            .push(key.clone());
        self.rows.entry(key).or_default().push(held);
        self.len += 1;
    }

    /// Drops the rows whose release time is at or before `frontier`, into `released`.
    fn release(&mut self, frontier: u64, released: &mut Vec<Held>) {
        while let Some(entry) = self.expiry.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            for key in entry.remove() {
                let Some(rows) = self.rows.get_mut(&key) else {
                    continue;
                };
                let before = rows.len();
                let (gone, kept) = std::mem::take(rows)
                    .into_iter()
                    .partition(|h| h.release <= frontier);
                *rows = kept;
                released.extend::<Vec<Held>>(gone);
                self.len -= before - rows.len();
                if rows.is_empty() {
                    self.rows.remove(&key);
                }
            }
        }
    }
}

/// Both sides' held rows (see the module doc).
pub struct IntervalState {
    bounds: Bounds,
    left_outer: bool,
    left: SideState,
    right: SideState,
}

impl IntervalState {
    pub fn new(bounds: Bounds) -> IntervalState {
        IntervalState {
            bounds,
            left_outer: false,
            left: SideState::default(),
            right: SideState::default(),
        }
    }

    /// The same state, giving back its released left rows (a LEFT JOIN).
    pub fn left_outer(self, left_outer: bool) -> IntervalState {
        IntervalState { left_outer, ..self }
    }

    /// The rows held, on both sides.
    fn len(&self) -> usize {
        self.left.len + self.right.len
    }

    /// A row of `which` side at time `t`: its pairs with the other side's held rows go to
    /// `out`, then it is held for partners to come.
    pub fn arrive(
        &mut self,
        which: Which,
        (key, ts, row): Keyed,
        t: u64,
        diff: i64,
        out: &mut Vec<(Row, u64, i64)>,
    ) {
        let (mine, other) = match which {
            Which::Left => (&mut self.left, &mut self.right),
            Which::Right => (&mut self.right, &mut self.left),
        };
        let mut matched = false;
        if let Some(partners) = other.rows.get_mut(&key) {
            for p in partners {
                let pair = match which {
                    Which::Left if self.bounds.matches(ts, p.ts) => joined(&row, &p.row),
                    Which::Right if self.bounds.matches(p.ts, ts) => joined(&p.row, &row),
                    _ => continue,
                };
                out.push((pair, t.max(p.time), diff * p.diff));
                (matched, p.matched) = (true, true);
            }
        }
        let release = self.bounds.release_time(which, ts);
        let held = Held {
            ts,
            time: t,
            row,
            diff,
            release,
            matched,
        };
        mine.hold(key, held);
    }

    /// Releases what the other side's frontier has passed (see the module doc); returns the
    /// left rows released, for a LEFT JOIN (none otherwise).
    pub fn release(&mut self, left_frontier: u64, right_frontier: u64) -> Vec<Held> {
        let mut released = Vec::new();
        self.left.release(right_frontier, &mut released);
        if !self.left_outer {
            released.clear();
        }
        self.right.release(left_frontier, &mut Vec::new());
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    /// Left and right rows of `n` times 10 ms apart over 7 keys, each side's row arriving at
    /// its own ts, the frontiers following: every pair found once, as a brute-force join
    /// finds them, and the state never above what one interval holds.
    fn run(n: i64, bounds: Bounds) -> (Vec<(i64, i64)>, usize) {
        let mut state = IntervalState::new(bounds);
        let (mut out, mut most) = (Vec::new(), 0);
        for i in 0..n {
            let ts = (i * 10) as u64;
            for which in [Which::Left, Which::Right] {
                let key = Row(vec![Value::Int(i % 7)]);
                let row = Row(vec![Value::Int(i)]);
                state.arrive(which, (key, ts, row), ts, 1, &mut out);
            }
            state.release(ts, ts);
            most = most.max(state.len());
        }
        let mut pairs: Vec<(i64, i64)> = out
            .iter()
            .map(|(row, _, d)| {
                assert_eq!(*d, 1);
                (
                    row.get(0).as_i64().unwrap_or(-1),
                    row.get(1).as_i64().unwrap_or(-1),
                )
            })
            .collect();
        pairs.sort();
        (pairs, most)
    }

    fn brute_force(n: i64, bounds: Bounds) -> Vec<(i64, i64)> {
        let mut pairs = Vec::new();
        for l in 0..n {
            for r in 0..n {
                let d = (l - r) * 10;
                if l % 7 == r % 7 && (bounds.lower..=bounds.upper).contains(&d) {
                    pairs.push((l, r));
                }
            }
        }
        pairs
    }

    #[test]
    fn every_pair_is_found_once_and_state_stays_within_the_interval() {
        for (lower, upper) in [(-1000, 0), (0, 500), (-300, 300), (200, 400)] {
            let bounds = Bounds { lower, upper };
            let (pairs, _) = run(1500, bounds);
            assert_eq!(pairs, brute_force(1500, bounds), "[{lower}, {upper}]");
        }
        let bounds = Bounds {
            lower: -1000,
            upper: 0,
        };
        let (_, short) = run(2_000, bounds);
        let (_, long) = run(200_000, bounds);
        // A left row waits 1000 ms (100 rows), a right row is released at once.
        assert!(
            short <= 104 && long == short,
            "{short} then {long} rows held"
        );
    }

    /// A LEFT JOIN's state gives back every left row once it is released, marked matched
    /// exactly when a right row paired with it, however the right rows came before or after.
    #[test]
    fn released_left_rows_say_whether_they_matched() {
        let bounds = Bounds {
            lower: -50,
            upper: 20,
        };
        let mut state = IntervalState::new(bounds).left_outer(true);
        let (mut out, mut released) = (Vec::new(), Vec::new());
        let n = 600i64;
        for i in 0..n {
            let ts = (i * 10) as u64;
            let row = |v| Row(vec![Value::Int(v)]);
            state.arrive(Which::Left, (row(i % 7), ts, row(i)), ts, 1, &mut out);
            // Right rows only for every third key, so some left rows find none.
            if i % 3 == 0 {
                state.arrive(Which::Right, (row(i % 7), ts, row(i)), ts, 1, &mut out);
            }
            released.extend(state.release(ts, ts));
        }
        released.extend(state.release(u64::MAX, u64::MAX));
        let mut seen: Vec<(i64, bool)> = released
            .iter()
            .map(|h| (h.row.get(0).as_i64().unwrap_or(-1), h.matched))
            .collect();
        seen.sort();
        let expected: Vec<(i64, bool)> = (0..n)
            .map(|l| {
                let partner = (0..n)
                    .any(|r| r % 3 == 0 && l % 7 == r % 7 && (-50..=20).contains(&((l - r) * 10)));
                (l, partner)
            })
            .collect();
        assert!(expected.iter().any(|e| e.1) && expected.iter().any(|e| !e.1));
        assert_eq!(seen, expected);
    }
}
