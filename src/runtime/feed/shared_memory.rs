//! Mutations already in memory (a benchmark's input, a library caller's), built into chunks
//! by the process's workers between them, as a file's lines are (see `shared_file`): chunk
//! `c` holds the positions of the [`CHUNK_EVENTS`] mutations from `c * CHUNK_EVENTS`.
//!
//! The mutations stay where they are and each worker clones its own when it walks them.
//! Decision: a chunk that held clones made by its builder had the other worker drop them,
//! so every shared value's reference count went from one core's cache to the other's, and
//! two workers spent on that what they saved by sharing the work.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::chunk::{
    Building, BuiltInTurn, ChunkQueue, ChunkSource, Next, Owned, Owners, Poisoned, SharedChunk,
    WalkChunk, next_in_turn,
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
            owners,
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

    fn build(
        &self,
        range: Range<usize>,
        index: u64,
        builder: usize,
    ) -> Result<WalkChunk, Poisoned> {
        let items = (range.start as u64..).zip(&self.mutations[range]);
        let building = Building {
            owners: &self.owners,
            chunk_owner: self.owners.chunk_owner(index, builder),
            clock: self.clock.as_ref(),
        };
        Ok(WalkChunk::positions_of(items, building))
    }
}

impl ChunkSource for SharedMemory {
    type Raw = Range<usize>;

    fn next_chunk(&self, index: u64, local: usize) -> Result<Next<Range<usize>>, Poisoned> {
        next_in_turn(self, index, local)
    }

    fn owned<'a>(&'a self, _: &'a WalkChunk, _: usize) -> Owned<'a> {
        Owned::Shared(&self.mutations)
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
