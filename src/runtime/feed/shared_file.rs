//! A JSON Lines file parsed once per process, each chunk of lines by one of its workers.
//!
//! Every worker still walks every line in input order, so all observe the same event times
//! and cut the same batches (see the feed's module doc). What is split is the parsing, most
//! of a line's cost before the dataflow: the file is read in chunks of [`CHUNK_LINES`] lines
//! at line boundaries, chunk `c` is parsed by the process's worker `c % workers`, and the
//! others read its parsed lines. A parsed chunk is the same whoever parses it, so which
//! worker parses what cannot change a result.
//!
//! A worker parses its own chunks among the next `workers` before it waits for another's,
//! so the workers parse side by side; while it waits it steps its dataflow (the worker it
//! waits for may itself be waiting for the frontier, which needs every worker to step). A
//! chunk is dropped once every worker has read it, so at most a few chunks per worker are
//! held however long the file.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::change::Mutation;
use crate::source::jsonl::{LineError, parse_line, read_error};

/// Lines per chunk: enough that handing a chunk over costs nothing next to parsing it.
pub const CHUNK_LINES: usize = 4096;

/// One parsed line: its number and mutation, or why it is not one.
pub type ParsedLine = Result<(u64, Mutation), LineError>;

/// Raw lines read and not yet parsed: the bytes, and each line's number and end.
#[derive(Default)]
struct RawChunk {
    bytes: Vec<u8>,
    lines: Vec<(u64, usize)>,
    /// A read error that ended the file here.
    error: Option<LineError>,
}

impl RawChunk {
    /// Its parsed lines, and its bytes' buffer to read another chunk into.
    fn parse(self) -> (Vec<ParsedLine>, Vec<u8>) {
        let mut parsed = Vec::with_capacity(self.lines.len() + 1);
        let mut start = 0;
        for (line, end) in self.lines {
            parsed.extend(parse_line(line, &self.bytes[start..end]));
            start = end;
        }
        parsed.extend(self.error.map(Err));
        (parsed, self.bytes)
    }
}

/// A worker panicked while it held the file or a chunk: what it was doing is lost.
#[derive(Debug)]
pub struct Poisoned;

/// A chunk of the file: raw until its worker parses it.
pub struct Chunk {
    raw: Mutex<Option<RawChunk>>,
    parsed: OnceLock<Vec<ParsedLine>>,
    readers_left: AtomicUsize,
}

impl Chunk {
    /// Parses the chunk (once; a second call does nothing), and gives back the buffer its
    /// bytes were read into.
    fn parse(&self) -> Result<Option<Vec<u8>>, Poisoned> {
        let raw = self.raw.lock().map_err(|_| Poisoned)?.take();
        Ok(raw.map(|raw| {
            let (parsed, bytes) = raw.parse();
            let _ = self.parsed.set(parsed);
            bytes
        }))
    }

    /// Its parsed lines, once its worker has parsed it.
    pub fn parsed(&self) -> Option<&[ParsedLine]> {
        self.parsed.get().map(Vec::as_slice)
    }
}

struct State {
    reader: BufReader<std::fs::File>,
    lines_read: u64,
    bytes_read: u64,
    at_end: bool,
    /// Chunks `first..`, read and not yet read by every worker.
    chunks: VecDeque<Arc<Chunk>>,
    first: u64,
    /// Buffers of parsed chunks, to read the next chunks into. NB: a chunk's bytes are
    /// about a megabyte; a new buffer for each, grown line by line, had the allocator map
    /// fresh pages (zeroed by the kernel) and copy on every doubling, a sixth of a
    /// pass-through run's time.
    spare: Vec<Vec<u8>>,
}

/// A file shared by one process's workers.
pub struct SharedFile {
    workers: usize,
    state: Mutex<State>,
}

impl SharedFile {
    pub fn open(path: &std::path::Path, workers: usize) -> std::io::Result<SharedFile> {
        let file = std::fs::File::open(path)?;
        Ok(SharedFile {
            workers: workers.max(1),
            state: Mutex::new(State {
                reader: BufReader::with_capacity(1 << 16, file),
                lines_read: 0,
                bytes_read: 0,
                at_end: false,
                chunks: VecDeque::new(),
                first: 0,
                spare: Vec::new(),
            }),
        })
    }

    /// Chunk `index`, read from the file if no worker has asked for it yet; `None` past the
    /// end of the file.
    pub fn chunk(&self, index: u64) -> Result<Option<Arc<Chunk>>, Poisoned> {
        let mut state = self.state.lock().map_err(|_| Poisoned)?;
        while state.first + state.chunks.len() as u64 <= index {
            if state.at_end {
                return Ok(None);
            }
            let raw = state.read_chunk();
            state.chunks.push_back(Arc::new(Chunk {
                raw: Mutex::new(Some(raw)),
                parsed: OnceLock::new(),
                readers_left: AtomicUsize::new(self.workers),
            }));
        }
        let chunk = index
            .checked_sub(state.first)
            .and_then(|offset| state.chunks.get(offset as usize));
        Ok(chunk.cloned())
    }

    /// How many bytes of the file were read so far.
    pub fn bytes_read(&self) -> Result<u64, Poisoned> {
        Ok(self.state.lock().map_err(|_| Poisoned)?.bytes_read)
    }

    /// Parses chunk `index` if it is local worker `local`'s to parse.
    pub fn parse_if_mine(&self, index: u64, local: usize) -> Result<(), Poisoned> {
        if index % self.workers as u64 == local as u64
            && let Some(chunk) = self.chunk(index)?
            && let Some(bytes) = chunk.parse()?
        {
            let mut state = self.state.lock().map_err(|_| Poisoned)?;
            if state.spare.len() < self.workers + 1 {
                state.spare.push(bytes);
            }
        }
        Ok(())
    }

    /// The chunks a worker parses before it waits for chunk `index`.
    pub fn ahead(&self, index: u64) -> std::ops::Range<u64> {
        index..index + self.workers as u64
    }

    /// A worker has read chunk `index`: drop the chunks every worker has read.
    pub fn done_with(&self, chunk: &Chunk) {
        chunk.readers_left.fetch_sub(1, Ordering::AcqRel);
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        while state
            .chunks
            .front()
            .is_some_and(|c| c.readers_left.load(Ordering::Acquire) == 0)
        {
            state.chunks.pop_front();
            state.first += 1;
        }
    }
}

impl State {
    fn read_chunk(&mut self) -> RawChunk {
        let mut raw = RawChunk::default();
        if let Some(mut bytes) = self.spare.pop() {
            bytes.clear();
            raw.bytes = bytes;
        }
        while raw.lines.len() < CHUNK_LINES {
            match self.reader.read_until(b'\n', &mut raw.bytes) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::jsonl::JsonlReader;

    /// Every worker reads the same lines as one reader of the whole file.
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
        let shared = SharedFile::open(&path, 2).unwrap();
        for local in 0..2 {
            let mut got = Vec::new();
            let mut index = 0;
            while let Some(chunk) = shared.chunk(index).unwrap() {
                for c in shared.ahead(index) {
                    shared.parse_if_mine(c, 0).unwrap();
                    shared.parse_if_mine(c, 1).unwrap();
                }
                got.extend(chunk.parsed().unwrap().iter().cloned());
                shared.done_with(&chunk);
                index += 1;
            }
            assert_eq!(got, whole, "worker {local}");
        }
        assert!(shared.state.lock().unwrap().chunks.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
