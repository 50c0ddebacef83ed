//! JSON Lines to files in an output directory, or to stdout as one JSON Lines stream.
//!
//! Files are created on the first write, so a pipeline with no late events has no
//! `.late.jsonl`. In a cluster every process writes the rows of its own workers; when several
//! processes share a directory each writes `<pipeline>.part-<process>.jsonl`. Every path is
//! built by [`output_path`], which refuses a name that would leave the directory.
//!
//! Decisions on failure (a full disk, a read-only or vanished directory):
//! - **Nothing fails quietly.** Every write, every flush, and the fsync of every file at the
//!   end of a run are checked. A file's first failure is kept with its path, and the file
//!   takes no more writes (so it never goes on past a hole). The directory keeps the first
//!   failure of any of its files and reports it as [`OutputFactory::failure`]: the feeder
//!   stops the run at its next batch and the run fails with that message — it does not
//!   print a summary of rows it did not write.
//! - **An unwritable directory fails before the run.** [`DirOutputs::create`] makes the
//!   directory and creates (then removes) a probe file in it, so a directory that cannot be
//!   written is an error naming it even when the run would write nothing.
//! - **A resumed output is never shorter than its checkpoint.** A file found shorter than
//!   the length the checkpoint recorded (cut, replaced or lost after the run synced it) is
//!   refused, naming the file and both lengths: resuming would append to a torn line, and
//!   the lines it lost were delivered before the checkpoint, so the resumed run will not
//!   write them again. `--repair` repairs logs only; it does not rewrite outputs.
//!
//! On stdout ([`StdoutOutputs`], a run without `--output`) every output shares one stream, so
//! each line is wrapped in a record that says where it belongs:
//! `{"pipeline":"<name>","<field>":<line>}`, where `<name>` is the file name `--output`
//! would write without `.jsonl` and its kind suffix (a pipeline's name, or a sink's output
//! such as `routes.counts`), and `<field>` is the kind of line: `row`, `late`, `error` or
//! `final` (the consolidated final state, for pipelines with `final_state = true`). Decision:
//! the line is nested whole under its kind rather than merged with the marker fields, so a
//! row with its own field called `pipeline` stays unambiguous, and `.row` is exactly the line
//! that `<pipeline>.jsonl` would hold. [`StdoutPipeline`] keeps one pipeline's records
//! (`--pipeline NAME`).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::path::output_path;
use super::{LineSink, OutputFactory, OutputKind};
use crate::value::write_json_string;

/// The first failure of any file of a directory, shared by its files.
type FirstFailure = Arc<OnceLock<String>>;

/// Writes `DIR/<pipeline><kind suffix>[.part-N].jsonl`.
pub struct DirOutputs {
    dir: PathBuf,
    part: Option<usize>,
    open: Mutex<HashMap<PathBuf, Arc<LazyFile>>>,
    failure: FirstFailure,
}

impl DirOutputs {
    pub fn new(dir: impl Into<PathBuf>, part: Option<usize>) -> DirOutputs {
        DirOutputs {
            dir: dir.into(),
            part,
            open: Mutex::new(HashMap::new()),
            failure: FirstFailure::default(),
        }
    }

    /// Creates `dir` if needed and checks that files can be created in it.
    pub fn create(dir: impl Into<PathBuf>, part: Option<usize>) -> Result<DirOutputs, String> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the output directory {}: {e}", dir.display()))?;
        check_writable(&dir)?;
        Ok(DirOutputs::new(dir, part))
    }

    /// The path of one of a pipeline's outputs (refused when the name would leave the
    /// directory).
    pub fn path(&self, name: &str, kind: OutputKind) -> Result<PathBuf, String> {
        let part = self.part.map_or(String::new(), |p| format!(".part-{p}"));
        output_path(&self.dir, &format!("{name}{}{part}.jsonl", kind.suffix()))
    }

    /// A sink for a file that is not a pipeline output (e.g. `bad-input.jsonl`).
    pub fn open_named(&self, name: &str) -> Arc<LazyFile> {
        self.file(name, OutputKind::Rows)
    }

    /// The file of an output, shared by every worker that writes it. A refused name gives
    /// a file that has failed already, so the run stops with the reason.
    fn file(&self, name: &str, kind: OutputKind) -> Arc<LazyFile> {
        let path = match self.path(name, kind) {
            Ok(path) => path,
            Err(message) => return Arc::new(LazyFile::refused(message, self.failure.clone())),
        };
        let mut open = self.open.lock().expect("outputs lock");
        open.entry(path.clone())
            .or_insert_with(|| Arc::new(LazyFile::in_dir(path, self.failure.clone())))
            .clone()
    }
}

/// Creates and removes a probe file: whether files can be created in `dir`.
fn check_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".kvflow-write-check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| {
            format!(
                "cannot write to the output directory {}: {e}",
                dir.display()
            )
        })?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove {}: {e}", probe.display()))
}

impl OutputFactory for DirOutputs {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        self.file(pipeline, kind)
    }

    /// Flushes and fsyncs every file; a failure is kept for [`failure`](Self::failure).
    fn finish(&self) {
        for file in self.open.lock().expect("outputs lock").values() {
            let _ = file.close();
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    fn resume(&self, lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        let mut open = self.open.lock().map_err(|_| "outputs lock poisoned")?;
        for (path, len) in lengths {
            let path = PathBuf::from(path);
            if !path.starts_with(&self.dir) {
                continue;
            }
            let file = LazyFile::resumed(path.clone(), *len)?;
            let file = LazyFile {
                first_failure: self.failure.clone(),
                ..file
            };
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

/// Lines gathered before they are handed to the file, at most about this many bytes.
const HAND_OVER_BYTES: usize = 1 << 16;

/// The file's writer, once created.
type Writer = Option<BufWriter<File>>;

/// A file created on first write. Its first failure is kept, and it takes no more writes.
///
/// Decision: the workers of a process share a pipeline's file, and one lock held through
/// the write system call made the other worker sleep on it (sessions over the 2M-line
/// keyed stream on two workers: 117 of 13 963 samples contended, the writes 95 -> 327
/// samples against one worker). Lines are gathered under one lock, and a full buffer is
/// written under a second, taken before the first is released, so buffers reach the file
/// in the order they filled (a worker's lines keep their order) while the other worker
/// goes on gathering. Measured on that run, eight alternating runs: 1.62 s median before,
/// 1.54 s after, system time about 0.30 s -> 0.18 s. The gathering lock is still contended
/// while a large time's lines are copied (62 -> 82 samples; the writes 278 -> 200).
pub struct LazyFile {
    path: PathBuf,
    pending: Mutex<Vec<u8>>,
    writer: Mutex<Writer>,
    failed: OnceLock<String>,
    /// Also told the first failure: the directory's, when the file belongs to one.
    first_failure: FirstFailure,
    /// The first write appends instead of truncating (a resumed output).
    append: bool,
}

impl LazyFile {
    pub fn new(path: PathBuf) -> LazyFile {
        LazyFile::in_dir(path, FirstFailure::default())
    }

    fn in_dir(path: PathBuf, first_failure: FirstFailure) -> LazyFile {
        LazyFile {
            path,
            pending: Mutex::default(),
            writer: Mutex::new(None),
            failed: OnceLock::new(),
            first_failure,
            append: false,
        }
    }

    /// A file whose name was refused: it has failed before its first write.
    fn refused(message: String, first_failure: FirstFailure) -> LazyFile {
        let file = LazyFile::in_dir(PathBuf::new(), first_failure);
        file.fail_with(message);
        file
    }

    /// An existing output cut back to `len` bytes; writes go on after them. A file shorter
    /// than `len` is refused (see the module doc).
    pub fn resumed(path: PathBuf, len: u64) -> Result<LazyFile, String> {
        let found = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(format!("cannot resume {}: {e}", path.display())),
        };
        if found < len {
            return Err(format!(
                "cannot resume {}: it holds {found} bytes, but the checkpoint recorded {len} \
                 bytes (it was cut or replaced after the run wrote it); `--repair` repairs \
                 logs, not outputs: restore the file, or start again with a new data \
                 directory and output directory",
                path.display()
            ));
        }
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
        self.checked()?;
        let context = |e: std::io::Error| format!("cannot sync {}: {e}", self.path.display());
        let mut writer = self.handed_over().ok_or("output lock poisoned")?;
        self.checked()?;
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

    /// Flushes and fsyncs the file (if it was created); the first failure, if any.
    pub fn close(&self) -> Result<(), String> {
        self.checked()?;
        if let Some(mut writer) = self.handed_over()
            && let Some(w) = writer.as_mut()
        {
            let synced = w.flush().map_err(|e| ("write", e));
            if let Err((what, e)) =
                synced.and_then(|()| w.get_ref().sync_all().map_err(|e| ("sync", e)))
            {
                self.fail(what, e);
                discard(writer.take());
            }
        }
        self.checked()
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    fn checked(&self) -> Result<(), String> {
        self.error().map_or(Ok(()), Err)
    }

    /// The writer, once every gathered line has been handed to it.
    fn handed_over(&self) -> Option<MutexGuard<'_, Writer>> {
        let mut pending = self.pending.lock().ok()?;
        let full = std::mem::take(&mut *pending);
        let mut writer = self.writer.lock().ok()?;
        drop(pending);
        self.write_out(&mut writer, &full);
        Some(writer)
    }

    /// Writes `bytes` to the file, creating it first if need be.
    fn write_out(&self, writer: &mut Writer, bytes: &[u8]) {
        if bytes.is_empty() || self.failed.get().is_some() {
            return;
        }
        if writer.is_none() {
            let opened = match self.append {
                true => OpenOptions::new().append(true).open(&self.path),
                false => File::create(&self.path),
            };
            match opened {
                Ok(file) => *writer = Some(BufWriter::with_capacity(HAND_OVER_BYTES, file)),
                Err(e) => return self.fail("create", e),
            }
        }
        if let Some(w) = writer.as_mut()
            && let Err(e) = w.write_all(bytes)
        {
            self.fail("write", e);
            discard(writer.take());
        }
    }

    fn fail(&self, what: &str, error: std::io::Error) {
        self.fail_with(format!("cannot {what} {}: {error}", self.path.display()));
    }

    fn fail_with(&self, message: String) {
        if self.failed.set(message.clone()).is_ok() {
            tracing::error!("{message}");
            let _ = self.first_failure.set(message);
        }
    }
}

impl LineSink for LazyFile {
    fn write(&self, lines: &str) {
        if lines.is_empty() || self.failed.get().is_some() {
            return;
        }
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        pending.extend_from_slice(lines.as_bytes());
        if pending.len() < HAND_OVER_BYTES {
            return;
        }
        let full = std::mem::replace(&mut *pending, Vec::with_capacity(2 * HAND_OVER_BYTES));
        let Ok(mut writer) = self.writer.lock() else {
            return;
        };
        // NB: released only once the writer is held, so full buffers reach the file in the
        // order they filled.
        drop(pending);
        self.write_out(&mut writer, &full);
    }

    fn flush(&self) {
        if self.failed.get().is_some() {
            return;
        }
        if let Some(mut writer) = self.handed_over()
            && let Some(w) = writer.as_mut()
            && let Err(e) = w.flush()
        {
            self.fail("write", e);
            discard(writer.take());
        }
    }
}

/// Drops a failed file's buffered lines without writing them: they would land after a hole.
fn discard(writer: Option<BufWriter<File>>) {
    if let Some(w) = writer {
        drop(w.into_parts());
    }
}

/// Writes every output line to stdout as one JSON Lines record (see the module doc).
#[derive(Default)]
pub struct StdoutOutputs;

/// The field of a stdout record that holds a line of output `kind`.
fn record_field(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Rows => "row",
        OutputKind::Late => "late",
        OutputKind::Errors => "error",
        OutputKind::Final => "final",
    }
}

/// Wraps each line of one output in its stdout record.
struct StdoutRecords {
    /// `{"pipeline":"<name>","<field>":`, the text before the line.
    head: String,
}

impl StdoutRecords {
    fn new(pipeline: &str, kind: OutputKind) -> StdoutRecords {
        let mut head = String::from("{\"pipeline\":");
        write_json_string(pipeline, &mut head);
        head.push_str(",\"");
        head.push_str(record_field(kind));
        head.push_str("\":");
        StdoutRecords { head }
    }

    /// `lines` (each a JSON value on its own line), each wrapped in its record.
    fn wrap(&self, lines: &str) -> String {
        let mut text = String::with_capacity(lines.len() + 64);
        for line in lines.lines().filter(|line| !line.is_empty()) {
            text.push_str(&self.head);
            text.push_str(line);
            text.push_str("}\n");
        }
        text
    }
}

impl LineSink for StdoutRecords {
    fn write(&self, lines: &str) {
        let text = self.wrap(lines);
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not an error worth a panic.
        let _ = stdout.write_all(text.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// A sink that keeps nothing.
struct Discard;

impl LineSink for Discard {
    fn write(&self, _lines: &str) {}
}

impl OutputFactory for StdoutOutputs {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        Arc::new(StdoutRecords::new(pipeline, kind))
    }

    fn finish(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// [`StdoutOutputs`] of one pipeline only (`--pipeline NAME`); every other output is
/// discarded.
pub struct StdoutPipeline {
    pub pipeline: String,
}

impl OutputFactory for StdoutPipeline {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        match pipeline == self.pipeline {
            true => StdoutOutputs.open(pipeline, kind),
            false => Arc::new(Discard),
        }
    }

    fn finish(&self) {
        StdoutOutputs.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_records_nest_each_line_under_its_kind() {
        let rows = StdoutRecords::new("by \"kind\"", OutputKind::Rows);
        assert_eq!(
            rows.wrap("{\"pipeline\":1}\n{\"a\":[2]}\n"),
            "{\"pipeline\":\"by \\\"kind\\\"\",\"row\":{\"pipeline\":1}}\n\
             {\"pipeline\":\"by \\\"kind\\\"\",\"row\":{\"a\":[2]}}\n"
        );
        let fields = [
            (OutputKind::Late, "late"),
            (OutputKind::Errors, "error"),
            (OutputKind::Final, "final"),
        ];
        for (kind, field) in fields {
            let text = StdoutRecords::new("p", kind).wrap("{\"x\":1}\n");
            let record: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                record,
                serde_json::json!({"pipeline": "p", field: {"x": 1}})
            );
        }
    }

    #[test]
    fn a_failed_write_is_kept_named_and_reported_by_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let outputs = DirOutputs::create(tmp.path(), None).unwrap();
        let full = LazyFile::in_dir(PathBuf::from("/dev/full"), outputs.failure.clone());
        full.write("{\"a\":1}\n");
        let error = full.close().unwrap_err();
        assert!(error.starts_with("cannot write /dev/full: "), "{error}");
        assert_eq!(outputs.failure(), Some(error.clone()));
        assert_eq!(full.synced_len(), Err(error));
    }

    #[test]
    fn a_name_that_would_leave_the_directory_fails_the_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let outputs = DirOutputs::create(tmp.path().join("out"), None).unwrap();
        let sink = outputs.open("../escaped", OutputKind::Rows);
        sink.write("{}\n");
        outputs.finish();
        assert!(!tmp.path().join("escaped.jsonl").exists());
        let failure = outputs.failure().unwrap();
        assert!(failure.contains("refused output file name `../escaped.jsonl`"));
    }

    #[test]
    fn a_resumed_output_shorter_than_its_checkpoint_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("rows.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n").unwrap();
        let resumed = LazyFile::resumed(path.clone(), 8).unwrap();
        resumed.write("{\"a\":3}\n");
        resumed.close().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":3}\n"
        );
        let error = LazyFile::resumed(path.clone(), 40).err().unwrap();
        assert!(
            error.contains("it holds 16 bytes, but the checkpoint recorded 40 bytes"),
            "{error}"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            16,
            "left as it was"
        );
        let missing = LazyFile::resumed(tmp.path().join("gone.jsonl"), 5)
            .err()
            .unwrap();
        assert!(missing.contains("it holds 0 bytes"), "{missing}");
    }
}
