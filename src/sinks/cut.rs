//! Outputs that begin at a timely time: a replay from a resume token or an event time runs
//! the dataflow over the whole stored history (so its state is the live run's) and writes
//! only what the live run wrote from the batch of that point on. The consolidated final
//! state (`write_at(None, ..)`) is written whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{LineSink, OutputFactory, OutputKind};

/// Opens the inner factory's sinks, cut at `from`.
pub struct FromTime {
    pub inner: Arc<dyn OutputFactory>,
    pub from: u64,
}

struct CutSink {
    inner: Arc<dyn LineSink>,
    from: u64,
}

impl LineSink for CutSink {
    fn write(&self, lines: &str) {
        self.inner.write(lines);
    }

    fn write_at(&self, time: Option<u64>, lines: &str) {
        if time.is_none_or(|t| t >= self.from) {
            self.inner.write_at(time, lines);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

impl OutputFactory for FromTime {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        Arc::new(CutSink {
            inner: self.inner.open(pipeline, kind),
            from: self.from,
        })
    }

    fn finish(&self) {
        self.inner.finish();
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    fn resume(&self, lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        self.inner.resume(lengths)
    }

    fn checkpoint(&self) -> Result<BTreeMap<String, u64>, String> {
        self.inner.checkpoint()
    }
}
