//! A JSON Lines file parsed once per process, each chunk of lines by one of its workers.
//!
//! Every worker still walks every line in input order, so all observe the same event times
//! and cut the same batches (see the feed's module doc). What is split is the parsing, most
//! of a line's cost before the dataflow: the file is read in chunks of [`CHUNK_LINES`] lines
//! at line boundaries, chunk `c` is parsed by the process's worker `c % workers` into a
//! [`WalkChunk`] (each line's position, and each worker's own mutations apart), and the
//! others walk it. A parsed chunk is the same whoever parses it, so which worker parses what
//! cannot change a result.
//!
//! A worker parses its own chunks among the next `workers` before it waits for another's,
//! so the workers parse side by side; while it waits it steps its dataflow (the worker it
//! waits for may itself be waiting for the frontier, which needs every worker to step). A
//! chunk is dropped once every worker has walked it, so at most a few chunks per worker are
//! held however long the file.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};

use super::chunk::{
    Building, BuiltInTurn, ChunkQueue, ChunkSource, Next, Owners, Poisoned, SharedChunk, WalkChunk,
    next_in_turn,
};
use crate::change::time::Clock;
use crate::source::jsonl::{LineError, parse_line, read_error};

/// Lines per chunk: enough that handing a chunk over costs nothing next to parsing it.
pub const CHUNK_LINES: usize = 4096;

/// Raw lines read and not yet parsed: the bytes, and each line's number and end.
#[derive(Default)]
pub struct RawChunk {
    bytes: Vec<u8>,
    lines: Vec<(u64, usize)>,
    /// A read error that ended the file here.
    error: Option<LineError>,
}

impl RawChunk {
    /// Its parsed lines as a chunk to walk, and its bytes' buffer to read another chunk into.
    fn parse(self, building: Building<'_>) -> (WalkChunk, Vec<u8>) {
        let mut start = 0;
        let bytes = &self.bytes;
        let lines = self.lines.iter().flat_map(|&(line, end)| {
            let parsed = parse_line(line, &bytes[start..end]);
            start = end;
            parsed
        });
        let expected = self.lines.len() + usize::from(self.error.is_some());
        let walk = WalkChunk::build(lines.chain(self.error.clone().map(Err)), expected, building);
        (walk, self.bytes)
    }
}

type Chunk = SharedChunk<RawChunk>;

struct State {
    reader: BufReader<std::fs::File>,
    lines_read: u64,
    bytes_read: u64,
    at_end: bool,
    /// Chunks read and not yet walked by every worker.
    chunks: ChunkQueue<RawChunk>,
    /// Buffers of parsed chunks, to read the next chunks into. NB: a chunk's bytes are
    /// about a megabyte; a new buffer for each, grown line by line, had the allocator map
    /// fresh pages (zeroed by the kernel) and copy on every doubling, a sixth of a
    /// pass-through run's time.
    spare: Vec<Vec<u8>>,
}

/// A file shared by one process's workers.
pub struct SharedFile {
    owners: Owners,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl SharedFile {
    pub fn open(
        path: &std::path::Path,
        owners: Owners,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<SharedFile> {
        let file = std::fs::File::open(path)?;
        Ok(SharedFile {
            owners,
            clock,
            state: Mutex::new(State {
                reader: BufReader::with_capacity(1 << 16, file),
                lines_read: 0,
                bytes_read: 0,
                at_end: false,
                chunks: ChunkQueue::default(),
                spare: Vec::new(),
            }),
        })
    }
}

impl BuiltInTurn for SharedFile {
    type Raw = RawChunk;

    fn locals(&self) -> usize {
        self.owners.locals
    }

    fn chunk(&self, index: u64) -> Result<Option<Arc<Chunk>>, Poisoned> {
        let mut state = self.state.lock().map_err(|_| Poisoned)?;
        while state.chunks.end() <= index {
            if state.at_end {
                return Ok(None);
            }
            let raw = state.read_chunk();
            let readers = self.owners.locals;
            state.chunks.push(SharedChunk::new(Some(raw), readers));
        }
        Ok(state.chunks.get(index))
    }

    fn build(&self, raw: RawChunk, index: u64, builder: usize) -> Result<WalkChunk, Poisoned> {
        let (walk, bytes) = raw.parse(Building {
            owners: &self.owners,
            chunk_owner: self.owners.chunk_owner(index, builder),
            clock: self.clock.as_ref(),
        });
        let mut state = self.state.lock().map_err(|_| Poisoned)?;
        if state.spare.len() < self.owners.locals + 1 {
            state.spare.push(bytes);
        }
        Ok(walk)
    }
}

impl ChunkSource for SharedFile {
    type Raw = RawChunk;

    fn next_chunk(&self, index: u64, local: usize) -> Result<Next<RawChunk>, Poisoned> {
        next_in_turn(self, index, local)
    }

    fn done_with(&self, chunk: &Chunk) {
        if let Ok(mut state) = self.state.lock() {
            state.chunks.done_with(chunk);
        }
    }

    fn bytes_read(&self) -> Result<Option<u64>, Poisoned> {
        Ok(Some(self.state.lock().map_err(|_| Poisoned)?.bytes_read))
    }
}

impl State {
    fn read_chunk(&mut self) -> RawChunk {
        let mut raw = RawChunk {
            lines: Vec::with_capacity(CHUNK_LINES),
            ..RawChunk::default()
        };
        if let Some(mut bytes) = self.spare.pop() {
            bytes.clear();
            raw.bytes = bytes;
        }
        while raw.lines.len() < CHUNK_LINES {
            match read_line(&mut self.reader, &mut raw.bytes) {
                Ok(0) => {
                    self.at_end = true;
                    break;
                }
                Ok(n) => {
                    self.lines_read += 1;
                    self.bytes_read += n as u64;
                    raw.lines.push((self.lines_read, raw.bytes.len()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.at_end = true;
                    raw.error = Some(read_error(self.lines_read + 1, &e));
                    break;
                }
            }
        }
        raw
    }
}

/// Appends the next line of `reader` to `out`, its `\n` included; returns its length (0 at
/// the end). As `BufRead::read_until`, with the newline found by `memchr`'s vectorised
/// search rather than the word-at-a-time one `read_until` uses, which profiles showed at
/// about 140 instructions a line.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (line_ends, used) = match memchr::memchr(b'\n', available) {
            Some(at) => (true, at + 1),
            None => (false, available.len()),
        };
        out.extend_from_slice(&available[..used]);
        reader.consume(used);
        read += used;
        if line_ends || used == 0 {
            return Ok(read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::chunk::{BAD_LINE, ParsedLine};
    use super::*;
    use crate::change::time::ManualClock;
    use crate::source::jsonl::JsonlReader;
    use crate::store::owner_of;

    /// Each worker walks every line in order, bad ones too, and gets the mutations whose key
    /// it owns as one reader of the whole file reads them.
    #[test]
    fn chunks_hold_the_files_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("kvflow-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.jsonl");
        let mut text = String::from("\u{feff}");
        for i in 0..(CHUNK_LINES * 2 + 17) {
            match i % 500 {
                7 => text.push_str("not json\r\n"),
                8 => text.push('\n'),
                _ => text.push_str(&format!("{{\"key\":\"k{i}\",\"ts\":{i},\"value\":{i}}}\n")),
            }
        }
        text.push_str("{\"key\":\"last\"}");
        std::fs::write(&path, &text).unwrap();
        let whole: Vec<ParsedLine> = JsonlReader::new(text.as_bytes()).collect();
        let owners = Owners {
            peers: 2,
            first_local: 0,
            locals: 2,
            append_only: None,
        };
        let shared = SharedFile::open(&path, owners, Arc::new(ManualClock::new(77))).unwrap();
        let mut walked = [Vec::new(), Vec::new()];
        let mut index = 0;
        loop {
            shared.next_chunk(index, 1).unwrap();
            let chunk = match shared.next_chunk(index, 0).unwrap() {
                Next::Ready(chunk) => chunk,
                Next::End => break,
                Next::Wait => panic!("chunk {index} was parsed by one of the two"),
            };
            let walk = chunk.walk().unwrap();
            for (local, got) in walked.iter_mut().enumerate() {
                let mut mine = walk.take_owned(local).into_iter();
                let mut errors = walk.errors.iter();
                for position in &walk.positions {
                    if position.owner == BAD_LINE {
                        got.push(Err(errors.next().unwrap().clone()));
                    } else if position.owner as usize == local {
                        got.push(Ok((position.seq, mine.next().unwrap())));
                    }
                }
                assert!(mine.next().is_none());
                shared.done_with(&chunk);
            }
            index += 1;
        }
        for (local, got) in walked.iter().enumerate() {
            let expected: Vec<ParsedLine> = whole
                .iter()
                .filter(|line| match line {
                    Ok((_, m)) => owner_of(&m.key, 2) == local,
                    Err(_) => true,
                })
                .cloned()
                .collect();
            assert_eq!(*got, expected, "worker {local}");
        }
        assert!(shared.state.lock().unwrap().chunks.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Lines come out as `read_until` gives them, across buffer refills and at the end.
    #[test]
    fn read_line_splits_as_read_until_does() {
        let text = b"{\"a\":1}\n\nlonger than the buffer\r\nlast without newline";
        type ReadLine<'a> = dyn FnMut(&mut BufReader<&[u8]>, &mut Vec<u8>) -> usize + 'a;
        let lines = |read: &mut ReadLine| {
            let mut reader = BufReader::with_capacity(4, &text[..]);
            let mut seen = Vec::new();
            loop {
                let mut line = Vec::new();
                match read(&mut reader, &mut line) {
                    0 => return seen,
                    n => seen.push((n, line)),
                }
            }
        };
        let ours = lines(&mut |r, out| read_line(r, out).unwrap());
        let std = lines(&mut |r, out| r.read_until(b'\n', out).unwrap());
        assert_eq!(ours, std);
        assert_eq!(ours.len(), 4);
    }
}
