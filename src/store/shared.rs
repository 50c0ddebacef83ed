//! The store's changes as the pipelines read them: each shard batch once, shared.
//!
//! Every source, sync target and route reads the same changes. Sent as a `Vec<Change>`, the
//! stream was cloned change by change for every reader but the last (a deep copy with a
//! reference-count increment per key and value) and then moved out of each copy again.
//! Decision: the shard operator hands out each batch behind an `Rc`, so a reader costs one
//! pointer copy per batch and reads the changes in place; the few readers that must own or
//! exchange changes (sync of the table, routes) take a [`unshared`] copy of their own.
//! The stream never leaves its worker (each shard's changes are read where they were made),
//! so the batch needs no serialization.

use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::container::{Accountable, DrainContainer};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;

use super::shard::Change;

/// One batch of a shard's changes, in the order the shard applied them.
#[derive(Clone, Default)]
pub struct SharedChanges(Rc<Vec<Change>>);

/// The store's changes, a shared batch per message.
pub type ChangeStream<'scope> = Stream<'scope, u64, SharedChanges>;

impl SharedChanges {
    pub fn new(changes: Vec<Change>) -> SharedChanges {
        SharedChanges(Rc::new(changes))
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Change> {
        self.0.iter()
    }
}

impl Accountable for SharedChanges {
    fn record_count(&self) -> i64 {
        i64::try_from(self.0.len()).unwrap_or(i64::MAX)
    }
}

impl DrainContainer for SharedChanges {
    type Item<'a> = &'a Change;
    type DrainIter<'a> = std::slice::Iter<'a, Change>;

    fn drain(&mut self) -> Self::DrainIter<'_> {
        self.0.iter()
    }
}

/// The changes as owned records, for a reader that keeps or exchanges them.
pub fn unshared<'scope>(changes: &ChangeStream<'scope>) -> Stream<'scope, u64, Vec<Change>> {
    changes
        .clone()
        .unary::<CapacityContainerBuilder<Vec<Change>>, _, _, _>(
            Pipeline,
            "Unshared",
            |_cap, _info| {
                |input, output| {
                    input.for_each(|cap, batch| {
                        output.session(&cap).give_iterator(batch.iter().cloned());
                    });
                }
            },
        )
}
