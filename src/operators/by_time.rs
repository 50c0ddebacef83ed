//! Holding records until the frontier passes their time, then handing them over in time
//! order, each time exactly once.
//!
//! Sinks, alerts, sync, routes and the session window all need a time's records only once the
//! time is complete (no more input can arrive at or before it). [`HeldByTime`] is that
//! holding in one place: records filed under their times, each time with a capability for it
//! (so the time stays open downstream until it is handed over), released earliest first once
//! the input frontier has passed it. Operators with more state of their own (sessions, alert
//! outboxes) keep a `HeldByTime`; operators that only consume completed times use
//! [`AtCompletedTimes::at_completed_times`].

use std::collections::BTreeMap;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::ParallelizationContract;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;

/// A capability that can be delayed to a later time: an input's or one the operator holds.
pub trait DelayCapability {
    /// A capability for `time` (at or after this one's) on the operator's first output.
    fn delayed_to(&self, time: u64) -> Capability<u64>;
}

impl DelayCapability for InputCapability<u64> {
    fn delayed_to(&self, time: u64) -> Capability<u64> {
        self.delayed(&time, 0)
    }
}

impl DelayCapability for Capability<u64> {
    fn delayed_to(&self, time: u64) -> Capability<u64> {
        self.delayed(&time)
    }
}

/// Batches held per time, each with a capability for its time, until the time is complete.
/// `B` is what a time collects: a `Vec` of records, or a fold of them.
pub struct HeldByTime<B> {
    times: BTreeMap<u64, (Capability<u64>, B)>,
    /// How many records the time filed last held (see [`HeldByTime::hold_updates`]).
    last_len: usize,
}

impl<B> Default for HeldByTime<B> {
    fn default() -> Self {
        HeldByTime {
            times: BTreeMap::new(),
            last_len: 0,
        }
    }
}

impl<B: Default> HeldByTime<B> {
    /// The batch of `time`, made empty (with a capability for `time` delayed from `cap`) if
    /// none is held yet. `time` must not be before `cap`'s time.
    pub fn at(&mut self, cap: &impl DelayCapability, time: u64) -> &mut B {
        &mut self
            .times
            .entry(time)
            .or_insert_with(|| (cap.delayed_to(time), B::default()))
            .1
    }
}

impl<B> HeldByTime<B> {
    /// Takes the earliest held time if the frontier has passed it (so it is complete), with
    /// its capability and batch. Called until `None`, hands over every complete time in
    /// time order.
    pub fn next_completed(
        &mut self,
        frontier: &MutableAntichain<u64>,
    ) -> Option<(u64, Capability<u64>, B)> {
        let entry = self.times.first_entry()?;
        if frontier.less_equal(entry.key()) {
            return None;
        }
        let (time, (cap, batch)) = entry.remove_entry();
        Some((time, cap, batch))
    }

    /// [`Self::next_completed`] for an operator with several inputs: the earliest held time
    /// once `complete(time)` says every input has passed it.
    pub fn next_completed_where(
        &mut self,
        complete: impl Fn(&u64) -> bool,
    ) -> Option<(u64, Capability<u64>, B)> {
        let entry = self.times.first_entry()?;
        if !complete(entry.key()) {
            return None;
        }
        let (time, (cap, batch)) = entry.remove_entry();
        Some((time, cap, batch))
    }
}

impl<D> HeldByTime<Vec<(D, i64)>> {
    /// Files differential updates `(data, time, diff)` under their own times.
    ///
    /// A run of updates at one time (a batch is mostly one) looks its time up once and
    /// reserves room for the run: looked up per update and grown by doubling, filing was
    /// about 140 instructions an event in a profile of Nexmark q4. A time's first run
    /// reserves room for as many records as the time filed last held: a batch arrives in
    /// many messages, and growing it by doubling copied it over (about 1.8% of a session
    /// window's instructions, callgrind).
    pub fn hold_updates(&mut self, cap: &InputCapability<u64>, updates: &mut Vec<(D, u64, i64)>) {
        let runs: Vec<(u64, usize)> = updates
            .chunk_by(|a, b| a.1 == b.1)
            .map(|run| (run[0].1, run.len()))
            .collect();
        let mut updates = updates.drain(..);
        for (time, len) in runs {
            let last_len = self.last_len;
            let batch = self.at(cap, time);
            batch.reserve(match batch.is_empty() {
                true => len.max(last_len),
                false => len,
            });
            batch.extend(
                updates
                    .by_ref()
                    .take(len)
                    .map(|(data, _, diff)| (data, diff)),
            );
            self.last_len = batch.len();
        }
    }
}

/// Records filed under their times until the times complete, behind one capability at the
/// earliest time held. The consumer outputs nothing, so the capability only keeps probes
/// from passing a time before it is handed over; one capability instead of one per time
/// spares the progress tracking a change per distinct time (a session window's rows carry
/// as many distinct times as there are sessions).
///
/// Decision: the records wait in one vector in arrival order and are sorted by time when
/// handed over, not filed per time in a map: a session window's rows bring a distinct time
/// each, and a map entry per row cost more than the sort (the rows mostly arrive in time
/// order, which a stable sort takes as it is).
struct Completing<R> {
    pending: Vec<(u64, R)>,
    hold: Option<Capability<u64>>,
    /// The buffer a time's records are handed over in, emptied and kept for the next time
    /// (a session window's rows bring a time each: a new vector per time was an allocation
    /// per row).
    batch: Vec<R>,
}

impl<R> Default for Completing<R> {
    fn default() -> Self {
        Completing {
            pending: Vec::new(),
            hold: None,
            batch: Vec::new(),
        }
    }
}

impl<R> Completing<R> {
    /// Files `record` under `time`, which is not before `cap`'s time.
    fn file(&mut self, cap: &InputCapability<u64>, time: u64, record: R) {
        if self.hold.as_ref().is_none_or(|hold| time < *hold.time()) {
            self.hold = Some(cap.delayed_to(time));
        }
        self.pending.push((time, record));
    }

    /// Hands over every complete time, earliest first (a time's records in arrival order),
    /// then holds the earliest left.
    fn hand_over(
        &mut self,
        frontier: &MutableAntichain<u64>,
        on_time: &mut impl FnMut(u64, &mut Vec<R>),
    ) {
        // NB: stable, so each time's records keep their arrival order.
        self.pending.sort_by_key(|(time, _)| *time);
        let complete = self
            .pending
            .partition_point(|(time, _)| !frontier.less_equal(time));
        // NB: drained in place, so `pending` keeps its room for the next activation's
        // records (the few waiting ones move to its front).
        let mut records = self.pending.drain(..complete).peekable();
        let batch = &mut self.batch;
        while let Some((time, first)) = records.next() {
            batch.push(first);
            while let Some((_, record)) = records.next_if(|(t, _)| *t == time) {
                batch.push(record);
            }
            on_time(time, batch);
            batch.clear();
        }
        drop(records);
        match (self.pending.first(), &mut self.hold) {
            (Some((earliest, _)), Some(hold)) => hold.downgrade(earliest),
            _ => self.hold = None,
        }
    }
}

/// Consumes a stream one complete time at a time.
pub trait AtCompletedTimes<'scope, D> {
    /// Holds each record until the frontier passes its time, then calls `on_time(time,
    /// records)` once per time, in time order (`records` is a buffer reused for the next
    /// time: take it to keep the records); calls `on_end()` once when the input is
    /// exhausted. `stamp(record, batch_time)` splits a record into the time it belongs to
    /// (its own, for differential updates; its batch's otherwise) and what is handed over.
    /// Outputs nothing; the returned stream is for probing.
    fn at_completed_times<R, P>(
        self,
        pact: P,
        name: &str,
        stamp: impl Fn(D, u64) -> (u64, R) + 'static,
        on_time: impl FnMut(u64, &mut Vec<R>) + 'static,
        on_end: impl FnMut() + 'static,
    ) -> Stream<'scope, u64, Vec<()>>
    where
        R: 'static,
        P: ParallelizationContract<u64, Vec<D>>;
}

impl<'scope, D: Clone + 'static> AtCompletedTimes<'scope, D> for Stream<'scope, u64, Vec<D>> {
    fn at_completed_times<R, P>(
        self,
        pact: P,
        name: &str,
        stamp: impl Fn(D, u64) -> (u64, R) + 'static,
        mut on_time: impl FnMut(u64, &mut Vec<R>) + 'static,
        mut on_end: impl FnMut() + 'static,
    ) -> Stream<'scope, u64, Vec<()>>
    where
        R: 'static,
        P: ParallelizationContract<u64, Vec<D>>,
    {
        self.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            pact,
            name,
            move |_cap, _info| {
                let mut held = Completing::default();
                let mut ended = false;
                move |(input, frontier), _output| {
                    input.for_each(|cap, data| {
                        let batch_time = cap.least().copied().unwrap_or_default();
                        for record in data.drain(..) {
                            let (time, record) = stamp(record, batch_time);
                            held.file(&cap, time, record);
                        }
                    });
                    held.hand_over(frontier, &mut on_time);
                    if frontier.is_empty() && !ended {
                        ended = true;
                        on_end();
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use timely::dataflow::channels::pact::Pipeline;
    use timely::dataflow::operators::Input;

    use super::*;

    /// What `at_completed_times` handed over, in order: `Some((time, records))` per time and
    /// `None` at the end.
    type Seen = Vec<Option<(u64, Vec<&'static str>)>>;

    /// Feeds `batches` (each `(batch time, records as (time, text))`) through
    /// `at_completed_times`, advancing the input to each batch's time, and returns what was
    /// handed over.
    fn run(batches: Vec<(u64, Vec<(u64, &'static str)>)>) -> Seen {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let out = seen.clone();
        timely::execute_directly(move |worker| {
            let (on_time, on_end) = (out.clone(), out);
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, records) = scope.new_input::<Vec<(u64, &'static str)>>();
                records.at_completed_times(
                    Pipeline,
                    "Test",
                    |(time, text), _| (time, text),
                    move |time, texts: &mut Vec<&'static str>| {
                        let texts = std::mem::take(texts);
                        on_time.lock().unwrap().push(Some((time, texts)));
                    },
                    move || on_end.lock().unwrap().push(None),
                );
                input
            });
            for (time, records) in batches {
                input.advance_to(time);
                for record in records {
                    input.send(record);
                }
                worker.step();
            }
        });
        let seen = seen.lock().unwrap();
        seen.clone()
    }

    #[test]
    fn hands_over_each_time_once_in_time_order_then_ends() {
        let seen = run(vec![
            (0, vec![(5, "e"), (2, "b"), (2, "c")]),
            (1, vec![(3, "d"), (1, "a")]),
            (4, vec![(7, "g"), (4, "f")]),
        ]);
        assert_eq!(
            seen,
            vec![
                Some((1, vec!["a"])),
                Some((2, vec!["b", "c"])),
                Some((3, vec!["d"])),
                Some((4, vec!["f"])),
                Some((5, vec!["e"])),
                Some((7, vec!["g"])),
                None,
            ]
        );
    }

    #[test]
    fn a_time_filed_over_several_steps_keeps_its_records_in_arrival_order() {
        let seen = run(vec![
            (0, vec![(5, "x1"), (1, "a")]),
            (2, vec![(5, "x2"), (3, "c"), (2, "b")]),
            (4, vec![(5, "x3"), (4, "d")]),
        ]);
        assert_eq!(
            seen,
            vec![
                Some((1, vec!["a"])),
                Some((2, vec!["b"])),
                Some((3, vec!["c"])),
                Some((4, vec!["d"])),
                Some((5, vec!["x1", "x2", "x3"])),
                None,
            ]
        );
    }

    #[test]
    fn a_time_waits_until_the_frontier_has_passed_it() {
        let handed: Arc<Mutex<Vec<u64>>> = Arc::default();
        let seen = handed.clone();
        timely::execute_directly(move |worker| {
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, times) = scope.new_input::<Vec<u64>>();
                times.at_completed_times(
                    Pipeline,
                    "Test",
                    |time, _| (time, ()),
                    move |time, _| seen.lock().unwrap().push(time),
                    || {},
                );
                input
            });
            input.send(3);
            input.advance_to(3);
            for _ in 0..5 {
                worker.step();
            }
            assert!(
                handed.lock().unwrap().is_empty(),
                "time 3 is not complete yet"
            );
            input.advance_to(4);
            for _ in 0..5 {
                worker.step();
            }
            assert_eq!(*handed.lock().unwrap(), vec![3]);
        });
    }

    #[test]
    fn held_batches_fold_per_time_and_keep_a_capability_for_it() {
        // Per released time: the time, its capability's time and its diffs.
        type Released = Vec<(u64, u64, Vec<i64>)>;
        let released: Arc<Mutex<Released>> = Arc::default();
        let out = released.clone();
        timely::execute_directly(move |worker| {
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, updates) = scope.new_input::<Vec<(&'static str, u64, i64)>>();
                updates.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Pipeline,
                    "Test",
                    move |_cap, _info| {
                        let mut held: HeldByTime<Vec<(&'static str, i64)>> = HeldByTime::default();
                        move |(input, frontier), _output| {
                            input.for_each(|cap, data| held.hold_updates(&cap, data));
                            while let Some((time, cap, batch)) = held.next_completed(frontier) {
                                let diffs = batch.iter().map(|(_, d)| *d).collect();
                                out.lock().unwrap().push((time, *cap.time(), diffs));
                            }
                        }
                    },
                );
                input
            });
            input.send(("a", 2, 1));
            input.send(("b", 1, 5));
            input.send(("c", 2, -1));
            input.advance_to(2);
            worker.step();
            worker.step();
        });
        let released = released.lock().unwrap();
        assert_eq!(*released, vec![(1, 1, vec![5]), (2, 2, vec![1, -1])]);
    }
}
