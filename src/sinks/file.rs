//! JSON Lines to files in an output directory, or to stdout prefixed by pipeline name.
//!
//! Files are created on the first write, so a pipeline with no late events has no
//! `.late.jsonl`. In a cluster every process writes the rows of its own workers; when several
//! processes share a directory each writes `<pipeline>.part-<process>.jsonl`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{LineSink, OutputFactory, OutputKind};

/// Writes `DIR/<pipeline><kind suffix>[.part-N].jsonl`.
pub struct DirOutputs {
    dir: PathBuf,
    part: Option<usize>,
    open: Mutex<HashMap<PathBuf, Arc<LazyFile>>>,
}

impl DirOutputs {
    pub fn new(dir: impl Into<PathBuf>, part: Option<usize>) -> DirOutputs {
        DirOutputs {
            dir: dir.into(),
            part,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub fn path(&self, name: &str, kind: OutputKind) -> PathBuf {
        let part = self.part.map_or(String::new(), |p| format!(".part-{p}"));
        self.dir
            .join(format!("{name}{}{part}.jsonl", kind.suffix()))
    }

    /// A sink for a file that is not a pipeline output (e.g. `bad-input.jsonl`).
    pub fn open_named(&self, name: &str) -> Arc<LazyFile> {
        let path = self.path(name, OutputKind::Rows);
        let mut open = self.open.lock().expect("outputs lock");
        open.entry(path.clone())
            .or_insert_with(|| Arc::new(LazyFile::new(path)))
            .clone()
    }
}

impl OutputFactory for DirOutputs {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        let path = self.path(pipeline, kind);
        let mut open = self.open.lock().expect("outputs lock");
        open.entry(path.clone())
            .or_insert_with(|| Arc::new(LazyFile::new(path)))
            .clone()
    }

    fn finish(&self) {
        for file in self.open.lock().expect("outputs lock").values() {
            file.flush();
        }
    }

    fn resume(&self, lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        let mut open = self.open.lock().map_err(|_| "outputs lock poisoned")?;
        for (path, len) in lengths {
            let path = PathBuf::from(path);
            if !path.starts_with(&self.dir) {
                continue;
            }
            let file = LazyFile::resumed(path.clone(), *len)?;
            open.insert(path, Arc::new(file));
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<BTreeMap<String, u64>, String> {
        let open = self.open.lock().map_err(|_| "outputs lock poisoned")?;
        let mut lengths = BTreeMap::new();
        for (path, file) in open.iter() {
            if let Some(len) = file.synced_len()? {
                lengths.insert(path.display().to_string(), len);
            }
        }
        Ok(lengths)
    }
}

/// A file created on first write. A write error is reported once and then remembered.
pub struct LazyFile {
    path: PathBuf,
    writer: Mutex<Option<BufWriter<File>>>,
    failed: Mutex<Option<String>>,
    /// The first write appends instead of truncating (a resumed output).
    append: bool,
}

impl LazyFile {
    pub fn new(path: PathBuf) -> LazyFile {
        LazyFile {
            path,
            writer: Mutex::new(None),
            failed: Mutex::new(None),
            append: false,
        }
    }

    /// An existing output cut back to `len` bytes; writes go on after them.
    pub fn resumed(path: PathBuf, len: u64) -> Result<LazyFile, String> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|f| f.set_len(len).and_then(|()| f.sync_all()))
            .map_err(|e| format!("cannot resume {}: {e}", path.display()))?;
        Ok(LazyFile {
            append: true,
            ..LazyFile::new(path)
        })
    }

    /// Flushes and fsyncs, returning the file's length (`None` if it was never created).
    pub fn synced_len(&self) -> Result<Option<u64>, String> {
        let context = |e: std::io::Error| format!("cannot sync {}: {e}", self.path.display());
        let mut writer = self.writer.lock().map_err(|_| "output lock poisoned")?;
        match writer.as_mut() {
            Some(w) => {
                w.flush().map_err(context)?;
                w.get_ref().sync_data().map_err(context)?;
                Ok(Some(w.get_ref().metadata().map_err(context)?.len()))
            }
            None if self.append => Ok(Some(std::fs::metadata(&self.path).map_err(context)?.len())),
            None => Ok(None),
        }
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }

    fn fail(&self, error: std::io::Error) {
        if let Ok(mut failed) = self.failed.lock()
            && failed.is_none()
        {
            let message = format!("cannot write {}: {error}", self.path.display());
            tracing::error!("{message}");
            *failed = Some(message);
        }
    }
}

impl LineSink for LazyFile {
    fn write(&self, lines: &str) {
        if lines.is_empty() {
            return;
        }
        let Ok(mut writer) = self.writer.lock() else {
            return;
        };
        if writer.is_none() {
            let opened = match self.append {
                true => OpenOptions::new().append(true).open(&self.path),
                false => File::create(&self.path),
            };
            match opened {
                Ok(file) => *writer = Some(BufWriter::with_capacity(1 << 16, file)),
                Err(e) => return self.fail(e),
            }
        }
        if let Some(w) = writer.as_mut()
            && let Err(e) = w.write_all(lines.as_bytes())
        {
            self.fail(e);
        }
    }

    fn flush(&self) {
        if let Ok(mut writer) = self.writer.lock()
            && let Some(w) = writer.as_mut()
            && let Err(e) = w.flush()
        {
            self.fail(e);
        }
    }
}

/// Writes every line to stdout as `<pipeline>[.<kind>]: <line>`; final state is not printed.
#[derive(Default)]
pub struct StdoutOutputs;

struct PrefixedStdout {
    prefix: String,
}

impl LineSink for PrefixedStdout {
    fn write(&self, lines: &str) {
        let mut text = String::with_capacity(lines.len() + 32);
        for line in lines.lines() {
            text.push_str(&self.prefix);
            text.push_str(line);
            text.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not an error worth a panic.
        let _ = stdout.write_all(text.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

struct Discard;

impl LineSink for Discard {
    fn write(&self, _lines: &str) {}
}

impl OutputFactory for StdoutOutputs {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        match kind {
            OutputKind::Final => Arc::new(Discard),
            OutputKind::Rows => Arc::new(PrefixedStdout {
                prefix: format!("{pipeline}: "),
            }),
            other => Arc::new(PrefixedStdout {
                prefix: format!("{pipeline}{}: ", other.suffix()),
            }),
        }
    }

    fn finish(&self) {
        let _ = std::io::stdout().flush();
    }
}
