//! Mutations already in memory (a benchmark's input, a library caller's), built into chunks
//! by the process's workers in turn, as a file's lines are (see `shared_file`): chunk `c`,
//! the [`CHUNK_EVENTS`] mutations from `c * CHUNK_EVENTS`, by worker `c % workers`.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::chunk::{
    BuiltInTurn, ChunkQueue, ChunkSource, Next, Owners, Poisoned, SharedChunk, WalkChunk,
    next_in_turn,
};
use crate::change::Mutation;
use crate::change::time::Clock;

/// Mutations per chunk.
pub const CHUNK_EVENTS: usize = 4096;

/// Mutations in memory shared by one process's workers.
pub struct SharedMemory {
    mutations: Arc<Vec<Mutation>>,
    owners: Owners,
    clock: Arc<dyn Clock>,
    chunks: Mutex<ChunkQueue<Range<usize>>>,
}

impl SharedMemory {
    pub fn new(mutations: Arc<Vec<Mutation>>, owners: Owners, clock: Arc<dyn Clock>) -> Self {
        SharedMemory {
            mutations,
            owners: Owners {
                locals: owners.locals.max(1),
                ..owners
            },
            clock,
            chunks: Mutex::default(),
        }
    }
}

impl BuiltInTurn for SharedMemory {
    type Raw = Range<usize>;

    fn locals(&self) -> usize {
        self.owners.locals
    }

    fn chunk(&self, index: u64) -> Result<Option<Arc<SharedChunk<Range<usize>>>>, Poisoned> {
        let mut chunks = self.chunks.lock().map_err(|_| Poisoned)?;
        while chunks.end() <= index {
            let start = chunks.end() as usize * CHUNK_EVENTS;
            if start >= self.mutations.len() {
                return Ok(None);
            }
            let end = (start + CHUNK_EVENTS).min(self.mutations.len());
            chunks.push(SharedChunk::new(Some(start..end), self.owners.locals));
        }
        Ok(chunks.get(index))
    }

    fn build(&self, range: Range<usize>) -> Result<WalkChunk, Poisoned> {
        let items = self.mutations[range.clone()]
            .iter()
            .zip(range)
            .map(|(mutation, seq)| Ok((seq as u64, mutation.clone())));
        Ok(WalkChunk::build(items, self.owners, self.clock.as_ref()))
    }
}

impl ChunkSource for SharedMemory {
    type Raw = Range<usize>;

    fn next_chunk(&self, index: u64, local: usize) -> Result<Next<Range<usize>>, Poisoned> {
        next_in_turn(self, index, local)
    }

    fn done_with(&self, chunk: &SharedChunk<Range<usize>>) {
        if let Ok(mut chunks) = self.chunks.lock() {
            chunks.done_with(chunk);
        }
    }

    fn bytes_read(&self) -> Result<Option<u64>, Poisoned> {
        Ok(None)
    }
}
