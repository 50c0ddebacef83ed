//! How ingests reach their shards: a container the feed made for this worker's own shard
//! moves there whole; any other is split ingest by ingest.
//!
//! Files, the generator and in-memory inputs are walked by every worker, each sending on only
//! what its own shard applies (`runtime::feed`), so every ingest of such a container already
//! names this worker. The exchange still routed each one: a call of the route, a move into
//! the target's buffer and a full buffer handed on, about 4% of each worker's samples in a
//! `perf` profile of Nexmark q2 on two workers. Decision: the route looks at the container
//! first; when every ingest names this worker (one comparison each) the container is handed
//! to this worker's channel as it is. Stdin, a replay and a server's writes are read by
//! worker 0 and routed by key, so their containers are split as before (a worker alone is
//! handed every container whole by the exchange itself). Which path a container takes
//! changes no ingest's shard, only how it gets there.

use timely::communication::Push;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::Message;
use timely::dataflow::channels::pact::DistributorPact;
use timely::dataflow::channels::pushers::exchange::{Distributor, DrainContainerDistributor};
use timely::progress::Stamp;

use super::shard::Ingest;

/// An ingest's shard, among the peers it was made for.
type Target = Box<dyn FnMut(&Ingest) -> u64>;

/// Ingests to their shards (see the module doc), for worker `own`; `by_route` splits a
/// container whose ingests are not all this worker's.
pub struct IngestRoute {
    own: usize,
    by_route: DrainContainerDistributor<CapacityContainerBuilder<Vec<Ingest>>, Target>,
}

/// The pact of a shard's input on worker `own`.
pub fn ingest_pact(own: usize) -> DistributorPact<impl FnOnce(usize) -> IngestRoute> {
    DistributorPact(move |peers| {
        let target: Target = Box::new(move |ingest: &Ingest| ingest.target(peers));
        IngestRoute {
            own,
            by_route: DrainContainerDistributor::new(target, peers),
        }
    })
}

impl Distributor<Vec<Ingest>> for IngestRoute {
    fn partition<T: Clone, P: Push<Message<T, Vec<Ingest>>>>(
        &mut self,
        container: &mut Vec<Ingest>,
        stamp: &Stamp<T>,
        pushers: &mut [P],
    ) {
        let own = self.own;
        if container.iter().all(|ingest| ingest.route as usize == own) {
            // NB: what the split holds goes first (the exchange flushes it at each new
            // stamp, so it is this stamp's): a key's ingests never overtake each other.
            self.by_route.flush(stamp, pushers);
            Message::push_at(container, stamp.clone(), &mut pushers[own]);
            return;
        }
        self.by_route.partition(container, stamp, pushers);
    }

    fn flush<T: Clone, P: Push<Message<T, Vec<Ingest>>>>(
        &mut self,
        stamp: &Stamp<T>,
        pushers: &mut [P],
    ) {
        self.by_route.flush(stamp, pushers);
    }

    fn relax(&mut self) {
        self.by_route.relax();
    }
}
