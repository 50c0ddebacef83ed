//! The built-in generator, run once per process, its chunks built by whichever worker needs
//! the next one first.
//!
//! The generator's stream is sequential (each event draws from the state the last one
//! left), so its chunks are built one after another. Whichever worker first asks for a chunk
//! not yet built takes the generator and builds it (the events, each key's owner, each
//! worker's own mutations apart: a [`WalkChunk`]); a worker that finds the generator taken
//! steps its dataflow and asks again. A worker ahead builds while a worker behind walks, so
//! the cost of generating is paid once per process and shared by the workers at their own
//! pace. A chunk is the same whoever builds it: the stream, and every result, is the same as
//! one worker running the generator alone.

use std::sync::{Arc, Mutex};

use super::chunk::{
    Building, ChunkQueue, ChunkSource, Next, Owners, Poisoned, SharedChunk, WalkChunk,
};
use crate::change::time::Clock;
use crate::workload::Generator;

/// Events per chunk: enough that handing a chunk over costs nothing next to generating it.
pub const CHUNK_EVENTS: usize = 4096;

struct State {
    /// `None` while a worker builds a chunk.
    generator: Option<Generator>,
    next_seq: u64,
    /// A worker panicked while it built a chunk: the rest of the stream is lost.
    poisoned: bool,
    chunks: ChunkQueue<()>,
}

/// A generator shared by one process's workers.
pub struct SharedGenerator {
    owners: Owners,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl SharedGenerator {
    pub fn new(generator: Generator, owners: Owners, clock: Arc<dyn Clock>) -> SharedGenerator {
        SharedGenerator {
            owners,
            clock,
            state: Mutex::new(State {
                generator: Some(generator),
                next_seq: 0,
                poisoned: false,
                chunks: ChunkQueue::default(),
            }),
        }
    }

    /// Builds chunk `index` on local worker `builder` from `generator`, whose next event is
    /// `seq`.
    fn build(
        &self,
        generator: &mut Generator,
        (index, seq): (u64, u64),
        builder: usize,
    ) -> SharedChunk<()> {
        let events = generator
            .by_ref()
            .take(CHUNK_EVENTS)
            .zip(seq..)
            .map(|(mutation, seq)| Ok((seq, mutation)));
        let building = Building {
            owners: &self.owners,
            chunk_owner: self.owners.chunk_owner(index, builder),
            clock: self.clock.as_ref(),
        };
        let walk = WalkChunk::build(events, CHUNK_EVENTS, building);
        let chunk = SharedChunk::new(None, self.owners.locals);
        chunk.set_walk(walk);
        chunk
    }
}

/// Marks the generator lost unless the chunk it is building is handed back.
struct BuildGuard<'a> {
    state: &'a Mutex<State>,
    done: bool,
}

impl Drop for BuildGuard<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Ok(mut state) = self.state.lock()
        {
            state.poisoned = true;
        }
    }
}

impl ChunkSource for SharedGenerator {
    type Raw = ();

    fn next_chunk(&self, index: u64, local: usize) -> Result<Next<()>, Poisoned> {
        let mut state = self.state.lock().map_err(|_| Poisoned)?;
        if let Some(chunk) = state.chunks.get(index) {
            return Ok(Next::Ready(chunk));
        }
        if state.poisoned {
            return Err(Poisoned);
        }
        let Some(mut generator) = state.generator.take() else {
            return Ok(Next::Wait);
        };
        if generator.len() == 0 {
            state.generator = Some(generator);
            return Ok(Next::End);
        }
        let next = (state.chunks.end(), state.next_seq);
        drop(state);
        let mut building = BuildGuard {
            state: &self.state,
            done: false,
        };
        let chunk = self.build(&mut generator, next, local);
        let mut state = self.state.lock().map_err(|_| Poisoned)?;
        building.done = true;
        state.next_seq += chunk.walk().map_or(0, |walk| walk.positions.len() as u64);
        state.generator = Some(generator);
        state.chunks.push(chunk);
        Ok(match state.chunks.get(index) {
            Some(chunk) => Next::Ready(chunk),
            None => Next::Wait,
        })
    }

    fn done_with(&self, chunk: &SharedChunk<()>) {
        if let Ok(mut state) = self.state.lock() {
            state.chunks.done_with(chunk);
        }
    }

    fn bytes_read(&self) -> Result<Option<u64>, Poisoned> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Mutation;
    use crate::change::time::ManualClock;
    use crate::store::owner_of;
    use crate::workload::{GenConfig, Workload, generate};

    /// Two workers walking the shared generator get, between them, exactly the stream one
    /// generator gives, each the mutations it owns, in order.
    #[test]
    fn workers_share_one_stream() {
        let config = GenConfig {
            events: CHUNK_EVENTS as u64 * 2 + 5,
            disorder_ms: 30,
            ..GenConfig::default()
        };
        let whole: Vec<Mutation> = generate(&Workload::Nexmark, &config).collect();
        let owners = Owners {
            peers: 2,
            first_local: 0,
            locals: 2,
            append_only: None,
        };
        let shared = SharedGenerator::new(
            generate(&Workload::Nexmark, &config),
            owners,
            Arc::new(ManualClock::new(0)),
        );
        let mut got: [Vec<(u64, Mutation)>; 2] = Default::default();
        let mut positions = 0;
        let mut index = 0;
        while let Next::Ready(chunk) = shared.next_chunk(index, 0).unwrap() {
            let walk = chunk.walk().unwrap();
            positions += walk.positions.len();
            for (local, got) in got.iter_mut().enumerate() {
                let mut mine = walk.take_owned(local).into_iter();
                for position in walk.positions.iter().filter(|p| p.owner as usize == local) {
                    let mutation = mine.next().unwrap();
                    assert_eq!(Some(position.ts), mutation.ts);
                    got.push((position.seq, mutation));
                }
                shared.done_with(&chunk);
            }
            index += 1;
        }
        assert_eq!((index, positions), (3, whole.len()));
        for (local, got) in got.iter().enumerate() {
            let expected: Vec<(u64, Mutation)> = (0..)
                .zip(whole.iter().cloned())
                .filter(|(_, m)| owner_of(&m.key, 2) == local)
                .collect();
            assert_eq!(*got, expected, "worker {local}");
        }
        assert!(shared.state.lock().unwrap().chunks.is_empty());
    }
}
