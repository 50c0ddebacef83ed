//! A chunk of input as a process's workers walk it, and the queue that shares chunks.
//!
//! Every worker walks every position of the input, in order, to cut the same batches and
//! give each event the same largest-ts-before (see the feed's module doc). What a position
//! costs a worker that does not own its key is therefore what decides how workers scale: a
//! chunk holds, for every position, only its `seq`, its resolved `ts` and its owner
//! ([`Position`]), and each local worker's own mutations apart, handed over by move
//! ([`WalkChunk::take_owned`]). The worker that builds a chunk (parses a file's lines, or
//! runs the generator) hashes each key once; the others compare one integer per position
//! and never clone or drop a mutation they do not own.
//!
//! A chunk is the same whoever builds it, so which worker builds what cannot change a
//! result. Chunks are dropped once every local worker has walked them ([`ChunkQueue`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::change::Mutation;
use crate::change::time::Clock;
use crate::source::jsonl::LineError;
use crate::store::owner_of;
use crate::store::shard::AppendOnlyKeys;

/// One parsed line: its number and mutation, or why it is not one.
pub type ParsedLine = Result<(u64, Mutation), LineError>;

/// The owner of a position that is a bad line, not a mutation.
pub const BAD_LINE: u32 = u32::MAX;

/// One position of the input: its sequence number, its event time (the mutation's, or the
/// clock's when it has none) and the worker that owns its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub seq: u64,
    pub ts: u64,
    /// The owning worker's index in the whole run, or [`BAD_LINE`].
    pub owner: u32,
}

/// How a chunk is built: who owns what, who owns its append-only keys, and the clock that
/// stamps a mutation without a `ts`.
#[derive(Clone, Copy)]
pub struct Building<'a> {
    pub owners: &'a Owners,
    pub chunk_owner: u32,
    pub clock: &'a dyn Clock,
}

impl Position {
    fn of(seq: u64, mutation: &Mutation, building: Building<'_>) -> Position {
        Position {
            seq,
            ts: mutation.ts.unwrap_or_else(|| building.clock.now_ms()),
            owner: building.owners.of(&mutation.key, building.chunk_owner),
        }
    }
}

/// A worker's own mutations of a chunk, in input order.
pub enum Owned<'a> {
    /// Held apart for it in the chunk, handed over by move.
    Moved(std::vec::IntoIter<Mutation>),
    /// Where they are, by position (`seq` is the index); the worker clones its own.
    Shared(&'a [Mutation]),
}

impl<'a> Owned<'a> {
    /// The mutation at `position`, which this worker owns.
    pub fn at(&mut self, position: &Position) -> Option<Cow<'a, Mutation>> {
        match self {
            Owned::Moved(mutations) => mutations.next().map(Cow::Owned),
            Owned::Shared(all) => all.get(position.seq as usize).map(Cow::Borrowed),
        }
    }
}

/// Which workers own which positions: all the run's workers, this process's, and the keys
/// the store keeps none of.
///
/// A key the store keeps goes to its owner's shard ([`owner_of`]). An append-only key is
/// in no shard's state, so any worker may apply it: it is owned by the worker that built
/// its chunk, which then never hands the mutation to another core. Decision: handing every
/// mutation from its builder to its key's owner had each cross cores once, allocated on
/// one and freed on the other, and two workers ran a stream of new keys no faster than
/// one; which worker applies an append-only put changes no row (its change is the put
/// itself, and every operator after the store routes rows by their own keys). Across
/// processes, the chunks take turns: chunk `c` is process `c % processes`'s.
#[derive(Clone, Debug)]
pub struct Owners {
    /// Workers in the whole run (every process's).
    pub peers: usize,
    /// The index of this process's first worker.
    pub first_local: usize,
    /// This process's workers.
    pub locals: usize,
    /// The keys the store keeps none of.
    pub append_only: Option<AppendOnlyKeys>,
}

impl Owners {
    /// The owner of `key` in a chunk whose append-only keys are `chunk_owner`'s.
    fn of(&self, key: &str, chunk_owner: u32) -> u32 {
        if self.peers <= 1 {
            return 0;
        }
        match &self.append_only {
            Some(keys) if keys.contains(key) => chunk_owner,
            _ => owner_of(key, self.peers) as u32,
        }
    }

    /// Who owns the append-only keys of chunk `index`, built by local worker `builder`: the
    /// builder, when the chunk is this process's; else the first worker of the process
    /// whose it is.
    pub fn chunk_owner(&self, index: u64, builder: usize) -> u32 {
        let locals = self.locals.max(1);
        let processes = (self.peers / locals).max(1) as u64;
        let process = (index % processes) as usize;
        match process == self.first_local / locals {
            true => (self.first_local + builder) as u32,
            false => (process * locals) as u32,
        }
    }

    /// `owner`'s index among this process's workers, when it is one of them.
    fn local(&self, owner: usize) -> Option<usize> {
        owner
            .checked_sub(self.first_local)
            .filter(|&local| local < self.locals)
    }
}

/// A chunk of positions, with each local worker's mutations apart.
#[derive(Debug)]
pub struct WalkChunk {
    pub positions: Vec<Position>,
    /// The bad lines, in the order of their positions.
    pub errors: Vec<LineError>,
    owned: Vec<Mutex<Vec<Mutation>>>,
}

impl WalkChunk {
    /// The chunk of `items`, in order, about `expected` of them. A mutation without a `ts` is
    /// stamped by `clock` here, once, so every worker walks the same time.
    pub fn build(
        items: impl IntoIterator<Item = ParsedLine>,
        expected: usize,
        building: Building<'_>,
    ) -> WalkChunk {
        let owners = building.owners;
        let mut chunk = WalkChunk {
            positions: Vec::with_capacity(expected),
            errors: Vec::new(),
            owned: (0..owners.locals).map(|_| Mutex::default()).collect(),
        };
        // NB: sized up front: grown by doubling, each chunk's buffers were copied over and,
        // past the allocator's large size, faulted in fresh pages (about 15% of ingest).
        let share = owned_share(expected, owners.locals);
        let mut owned: Vec<Vec<Mutation>> = (0..owners.locals)
            .map(|_| Vec::with_capacity(share))
            .collect();
        for item in items {
            match item {
                Ok((seq, mutation)) => {
                    let position = Position::of(seq, &mutation, building);
                    if let Some(local) = owners.local(position.owner as usize) {
                        owned[local].push(mutation);
                    }
                    chunk.positions.push(position);
                }
                Err(error) => {
                    chunk.positions.push(Position {
                        seq: error.line,
                        ts: 0,
                        owner: BAD_LINE,
                    });
                    chunk.errors.push(error);
                }
            }
        }
        for (slot, mutations) in chunk.owned.iter_mut().zip(owned) {
            *slot = Mutex::new(mutations);
        }
        chunk
    }

    /// The chunk of mutations that stay where they are (each worker takes its own from there):
    /// the positions alone.
    pub fn positions_of<'a>(
        items: impl Iterator<Item = (u64, &'a Mutation)>,
        building: Building<'_>,
    ) -> WalkChunk {
        WalkChunk {
            positions: items
                .map(|(seq, mutation)| Position::of(seq, mutation, building))
                .collect(),
            errors: Vec::new(),
            owned: Vec::new(),
        }
    }

    /// Local worker `local`'s mutations, in input order (once: a second call finds none).
    pub fn take_owned(&self, local: usize) -> Vec<Mutation> {
        self.owned
            .get(local)
            .and_then(|slot| {
                slot.lock()
                    .ok()
                    .map(|mut owned| std::mem::take(&mut *owned))
            })
            .unwrap_or_default()
    }
}

/// The room to reserve for one local worker's mutations of a chunk of `expected`: all of
/// them with one worker; with several, an even share and an eighth to spare, since keys
/// spread about evenly.
fn owned_share(expected: usize, locals: usize) -> usize {
    match locals {
        0 | 1 => expected,
        _ => expected / locals + expected / 8,
    }
}

/// A worker panicked while it held the shared input or a chunk: what it was doing is lost.
#[derive(Debug)]
pub struct Poisoned;

/// A chunk shared by a process's workers: built once, walked by each.
pub struct SharedChunk<Raw> {
    /// What the chunk is built from, until its builder takes it.
    pub raw: Mutex<Option<Raw>>,
    walk: OnceLock<WalkChunk>,
    readers_left: AtomicUsize,
}

impl<Raw> SharedChunk<Raw> {
    pub fn new(raw: Option<Raw>, readers: usize) -> SharedChunk<Raw> {
        SharedChunk {
            raw: Mutex::new(raw),
            walk: OnceLock::new(),
            readers_left: AtomicUsize::new(readers),
        }
    }

    /// The chunk, once built.
    pub fn walk(&self) -> Option<&WalkChunk> {
        self.walk.get()
    }

    /// Sets the built chunk (a second call does nothing).
    pub fn set_walk(&self, walk: WalkChunk) {
        let _ = self.walk.set(walk);
    }
}

/// The chunks `first..` not yet walked by every local worker.
pub struct ChunkQueue<Raw> {
    chunks: VecDeque<Arc<SharedChunk<Raw>>>,
    first: u64,
}

impl<Raw> Default for ChunkQueue<Raw> {
    fn default() -> Self {
        ChunkQueue {
            chunks: VecDeque::new(),
            first: 0,
        }
    }
}

impl<Raw> ChunkQueue<Raw> {
    /// The index the next chunk pushed gets.
    pub fn end(&self) -> u64 {
        self.first + self.chunks.len() as u64
    }

    pub fn push(&mut self, chunk: SharedChunk<Raw>) {
        self.chunks.push_back(Arc::new(chunk));
    }

    pub fn get(&self, index: u64) -> Option<Arc<SharedChunk<Raw>>> {
        index
            .checked_sub(self.first)
            .and_then(|offset| self.chunks.get(offset as usize))
            .cloned()
    }

    /// A worker has walked `chunk`: drop the chunks every worker has walked.
    pub fn done_with(&mut self, chunk: &SharedChunk<Raw>) {
        chunk.readers_left.fetch_sub(1, Ordering::AcqRel);
        while self
            .chunks
            .front()
            .is_some_and(|c| c.readers_left.load(Ordering::Acquire) == 0)
        {
            self.chunks.pop_front();
            self.first += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// What a worker finds when it asks for the next chunk.
pub enum Next<Raw> {
    Ready(Arc<SharedChunk<Raw>>),
    /// Another worker is building it: step the dataflow and ask again.
    Wait,
    End,
}

/// A process's input, built into chunks by its workers and walked by each of them.
pub trait ChunkSource {
    type Raw;

    /// Chunk `index` for local worker `local`, which builds its share of the chunks ahead.
    fn next_chunk(&self, index: u64, local: usize) -> Result<Next<Self::Raw>, Poisoned>;

    /// Local worker `local`'s mutations of `chunk`: by default those held apart for it.
    fn owned<'a>(&'a self, chunk: &'a WalkChunk, local: usize) -> Owned<'a> {
        Owned::Moved(chunk.take_owned(local).into_iter())
    }

    /// A worker has walked `chunk`.
    fn done_with(&self, chunk: &SharedChunk<Self::Raw>);

    /// The bytes read so far, for an input that has bytes.
    fn bytes_read(&self) -> Result<Option<u64>, Poisoned>;
}

/// An input read in order in chunks that the local workers build between them: chunk `c` is
/// local worker `c % locals`'s to build ahead of need, so the workers build side by side, and
/// a worker that needs a chunk nobody has started builds it itself. Decision: a worker that
/// waited for the chunk's own builder ran in lockstep with it, each waiting while the other
/// stepped its dataflow, and two workers ran no faster than one; a chunk is the same whoever
/// builds it, so taking over costs nothing but the build.
pub trait BuiltInTurn {
    type Raw;

    fn locals(&self) -> usize;

    /// Chunk `index`, read if no worker has asked for it yet; `None` past the end.
    fn chunk(&self, index: u64) -> Result<Option<Arc<SharedChunk<Self::Raw>>>, Poisoned>;

    /// Builds chunk `index` from what was read of it, on local worker `builder`.
    fn build(&self, raw: Self::Raw, index: u64, builder: usize) -> Result<WalkChunk, Poisoned>;
}

/// Chunk `index` of `source` for local worker `local`, which first builds its own chunks
/// among the next `locals`, then chunk `index` itself if nobody has started it.
pub fn next_in_turn<S: BuiltInTurn>(
    source: &S,
    index: u64,
    local: usize,
) -> Result<Next<S::Raw>, Poisoned> {
    let Some(chunk) = source.chunk(index)? else {
        return Ok(Next::End);
    };
    let locals = source.locals() as u64;
    for ahead in (index..index + locals).filter(|ahead| ahead % locals == local as u64) {
        match source.chunk(ahead)? {
            Some(mine) => build_once(source, &mine, (ahead, local))?,
            None => break,
        }
    }
    build_once(source, &chunk, (index, local))?;
    Ok(match chunk.walk() {
        Some(_) => Next::Ready(chunk),
        None => Next::Wait,
    })
}

/// Builds `chunk` (its index, and the local worker that builds it) unless a worker has
/// already taken what it is built from.
fn build_once<S: BuiltInTurn>(
    source: &S,
    chunk: &SharedChunk<S::Raw>,
    (index, builder): (u64, usize),
) -> Result<(), Poisoned> {
    let raw = chunk.raw.lock().map_err(|_| Poisoned)?.take();
    if let Some(raw) = raw {
        chunk.set_walk(source.build(raw, index, builder)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::time::ManualClock;
    use crate::value::Value;

    fn owners(peers: usize, first_local: usize, locals: usize) -> Owners {
        Owners {
            peers,
            first_local,
            locals,
            append_only: None,
        }
    }

    fn building<'a>(owners: &'a Owners, clock: &'a ManualClock) -> Building<'a> {
        Building {
            owners,
            chunk_owner: owners.chunk_owner(0, 0),
            clock,
        }
    }

    fn bad(line: u64) -> ParsedLine {
        Err(LineError {
            line,
            message: "bad".into(),
            text: String::new(),
            cut_from: None,
        })
    }

    /// Every position is kept in order; each local worker gets exactly the mutations whose
    /// key it owns, in order; a missing ts is the clock's.
    #[test]
    fn positions_in_order_and_mutations_by_owner() {
        let items: Vec<ParsedLine> = (1..=40u64)
            .map(|line| match line {
                7 => bad(7),
                9 => Ok((
                    9,
                    Mutation {
                        ts: None,
                        ..Mutation::delete(format!("k{line}"), 0)
                    },
                )),
                _ => Ok((
                    line,
                    Mutation::put(format!("k{line}"), Value::Int(line as i64), line * 10),
                )),
            })
            .collect();
        let clock = ManualClock::new(5);
        // Workers 2 and 3 of a run of 4 (the second process of two).
        let run = owners(4, 2, 2);
        let chunk = WalkChunk::build(items.clone(), 40, building(&run, &clock));
        assert_eq!(chunk.positions.len(), 40);
        assert_eq!(chunk.errors, vec![bad(7).unwrap_err()]);
        let mut mine: [Vec<Mutation>; 2] = [chunk.take_owned(0), chunk.take_owned(1)];
        assert!(chunk.take_owned(0).is_empty() && chunk.take_owned(7).is_empty());
        let mut expected: [Vec<Mutation>; 2] = Default::default();
        for (item, position) in items.iter().zip(&chunk.positions) {
            match item {
                Err(error) => assert_eq!((position.seq, position.owner), (error.line, BAD_LINE)),
                Ok((seq, m)) => {
                    let owner = owner_of(&m.key, 4);
                    assert_eq!(
                        *position,
                        Position {
                            seq: *seq,
                            ts: m.ts.unwrap_or(5),
                            owner: owner as u32
                        }
                    );
                    if owner >= 2 {
                        expected[owner - 2].push(m.clone());
                    }
                }
            }
        }
        assert!(!expected[0].is_empty() && !expected[1].is_empty());
        assert_eq!(std::mem::take(&mut mine), expected);
        // One worker owns everything.
        let one = owners(1, 0, 1);
        let single = WalkChunk::build(items.clone(), 40, building(&one, &clock));
        assert!(
            single
                .positions
                .iter()
                .all(|p| p.owner == 0 || p.owner == BAD_LINE)
        );
        assert_eq!(single.take_owned(0).len(), 39);
    }

    /// An append-only key is its chunk's: the builder's when the chunk is its process's, else
    /// a worker of the process whose turn the chunk is; a kept key is its owner's wherever.
    #[test]
    fn append_only_keys_belong_to_their_chunk() {
        let regex = crate::store::KeyPattern::new("^bid_").unwrap();
        let second_process = Owners {
            append_only: Some(AppendOnlyKeys(regex)),
            ..owners(4, 2, 2)
        };
        // Chunks take turns between the two processes: odd ones are this process's.
        assert_eq!(second_process.chunk_owner(1, 1), 3);
        assert_eq!(second_process.chunk_owner(3, 0), 2);
        assert_eq!(second_process.chunk_owner(2, 1), 0);
        let first_process = Owners {
            first_local: 0,
            ..second_process.clone()
        };
        assert_eq!(first_process.chunk_owner(2, 1), 1);
        assert_eq!(first_process.chunk_owner(1, 1), 2);
        let clock = ManualClock::new(0);
        let items: Vec<ParsedLine> = ["bid_1", "bid_2", "person_1", "person_2", "bid_3"]
            .iter()
            .zip(1..)
            .map(|(key, seq)| Ok((seq, Mutation::put(*key, Value::Int(seq as i64), seq))))
            .collect();
        let chunk = WalkChunk::build(
            items,
            0,
            Building {
                owners: &second_process,
                chunk_owner: 3,
                clock: &clock,
            },
        );
        let owners: Vec<u32> = chunk.positions.iter().map(|p| p.owner).collect();
        let kept = |key: &str| owner_of(key, 4) as u32;
        assert_eq!(owners, [3, 3, kept("person_1"), kept("person_2"), 3]);
        let mine: Vec<String> = chunk
            .take_owned(1)
            .iter()
            .map(|m| m.key.to_string())
            .collect();
        let expected: Vec<&str> = ["bid_1", "bid_2", "person_1", "person_2", "bid_3"]
            .into_iter()
            .filter(|key| key.starts_with("bid_") || kept(key) == 3)
            .collect();
        assert_eq!(mine, expected);
    }

    #[test]
    fn queue_drops_chunks_once_every_worker_walked_them() {
        let mut queue: ChunkQueue<()> = ChunkQueue::default();
        for _ in 0..3 {
            queue.push(SharedChunk::new(None, 2));
        }
        let first = queue.get(0).unwrap();
        queue.done_with(&first);
        assert_eq!(queue.end(), 3);
        assert!(queue.get(0).is_some());
        queue.done_with(&first);
        assert!(queue.get(0).is_none() && queue.get(1).is_some());
        assert_eq!(queue.end(), 3);
    }
}
