//! The skeleton every delivering sink shares: hold updates per time, and hand a time's
//! updates over once the frontier has passed it — in time order, exactly once.

use std::collections::BTreeMap;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::ParallelizationContract;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::operator::Operator;

/// Calls `on_time(time, records)` for each time the frontier has passed, then
/// `on_end()` once when the input is exhausted. `time_of` gives a record's time (its own,
/// for differential updates; the batch's capability time otherwise).
pub fn each_completed_time<'scope, D, P>(
    stream: Stream<'scope, u64, Vec<D>>,
    pact: P,
    name: &str,
    time_of: fn(&D, u64) -> u64,
    mut on_time: impl FnMut(u64, Vec<D>) + 'static,
    mut on_end: impl FnMut() + 'static,
) -> Stream<'scope, u64, Vec<()>>
where
    D: Clone + 'static,
    P: ParallelizationContract<u64, Vec<D>>,
{
    stream.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
        pact,
        name,
        move |_cap, _info| {
            let mut pending: BTreeMap<u64, (Capability<u64>, Vec<D>)> = BTreeMap::new();
            let mut ended = false;
            move |(input, frontier), _output| {
                input.for_each(|cap, data| {
                    let at = cap.least().copied().unwrap_or_default();
                    for record in data.drain(..) {
                        let time = time_of(&record, at);
                        pending
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()))
                            .1
                            .push(record);
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let time = *entry.key();
                    let (_cap, records) = entry.remove();
                    on_time(time, records);
                }
                if frontier.is_empty() && !ended {
                    ended = true;
                    on_end();
                }
            }
        },
    )
}
