//! Feeding stdin: a reader thread parses the lines and hands them over in order, so the
//! worker keeps stepping its dataflow while the producer is quiet. Decision: a worker that
//! read stdin itself blocked in `read` between lines, so a batch that the last line closed
//! stayed in flight (its rows unwritten, its counters unmoved) until more input or the end
//! came; a live producer writes a line and waits for its rows. The lines and their order are
//! the same either way, so batches and results are too.

use std::borrow::Cow;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use super::{Cursor, Feeder};
use crate::change::Mutation;
use crate::runtime::RunError;
use crate::source::jsonl::{JsonlReader, LineError};

/// Parsed lines the reader may be ahead of the worker by.
const READ_AHEAD: usize = 1 << 12;
/// How long the worker waits for a line before it steps its dataflow again.
const IDLE_STEP: Duration = Duration::from_millis(20);

type Parsed = Result<(u64, Mutation), LineError>;

/// Starts the reader thread; its lines arrive in input order, and the channel closes at the
/// end of the input.
fn read_stdin() -> Result<Receiver<Parsed>, RunError> {
    let (lines, received) = sync_channel(READ_AHEAD);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for item in JsonlReader::new(std::io::stdin().lock()) {
                if lines.send(item).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| RunError::Worker(format!("cannot start the stdin reader: {e}")))?;
    Ok(received)
}

impl Feeder<'_, '_> {
    /// Feeds stdin's lines, stepping the dataflow whenever none is waiting.
    pub(super) fn feed_stdin(&mut self) -> Result<(), RunError> {
        let lines = read_stdin()?;
        let mut cursor = Cursor::new(self.timeline.stamp());
        loop {
            let item = match lines.try_recv() {
                Ok(item) => item,
                Err(_) => {
                    self.handle.flush();
                    self.step();
                    match lines.recv_timeout(IDLE_STEP) {
                        Ok(item) => item,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
            };
            let item = item.map(|(seq, mutation)| (seq, Cow::Owned(mutation)));
            self.feed_one(item, &mut cursor)?;
        }
    }
}
