//! In-memory outputs for tests: every line each pipeline wrote, by output kind.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{LineSink, OutputFactory, OutputKind};

/// Captures lines in memory; clone it to read what a run wrote.
type Sinks = BTreeMap<(String, OutputKind), Arc<CaptureSink>>;

#[derive(Clone, Default)]
pub struct Capture {
    lines: Arc<Mutex<Sinks>>,
}

#[derive(Default)]
pub struct CaptureSink {
    text: Mutex<String>,
}

impl LineSink for CaptureSink {
    fn write(&self, lines: &str) {
        if let Ok(mut text) = self.text.lock() {
            text.push_str(lines);
        }
    }
}

impl OutputFactory for Capture {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        let mut map = self.lines.lock().expect("capture lock");
        map.entry((pipeline.to_string(), kind)).or_default().clone()
    }
}

impl Capture {
    pub fn new() -> Capture {
        Capture::default()
    }

    /// The lines written to one output, sorted (workers interleave, so order is not kept).
    pub fn sorted(&self, pipeline: &str, kind: OutputKind) -> Vec<String> {
        let map = self.lines.lock().expect("capture lock");
        let mut lines: Vec<String> = map
            .get(&(pipeline.to_string(), kind))
            .map(|sink| {
                let text = sink.text.lock().expect("capture lock");
                text.lines().map(str::to_string).collect()
            })
            .unwrap_or_default();
        lines.sort();
        lines
    }

    pub fn rows(&self, pipeline: &str) -> Vec<String> {
        self.sorted(pipeline, OutputKind::Rows)
    }
}
