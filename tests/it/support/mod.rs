//! What the integration tests share: the `kvflow` binary, free ports, temporary directories,
//! waiting on a condition, reading output directories, and the change events an input makes.
//! The submodules hold the seeded generator, the crash tests' dataflow and kill helpers, the
//! `kvflow serve` harness, tmpfs mounts, and the Redis and PostgreSQL servers the tests start.

pub mod crash;
pub mod rng;
pub mod serve;
pub mod services;
pub mod tmpfs;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kvflow::source::jsonl::JsonlReader;
use kvflow::store::{Ingest, ShardState};

pub use rng::Rng;

/// The `kvflow` binary this package builds, ready for arguments.
pub fn kvflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvflow"))
}

/// Runs `kvflow <args>` to its end: its exit status and output.
pub fn kvflow_output(args: &[&str]) -> Output {
    kvflow().args(args).output().expect("run kvflow")
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A temporary directory, removed when dropped.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Runs `DIR/flow.toml` over `DIR/input.jsonl` on `workers` workers; the output directory.
pub fn run_flow_in(dir: &Path, workers: &str) -> tempfile::TempDir {
    let out = tmp();
    let (flow, input) = (dir.join("flow.toml"), dir.join("input.jsonl"));
    let args = [
        "run",
        s(&flow),
        "--input",
        s(&input),
        "--output",
        s(out.path()),
        "-w",
        workers,
    ];
    assert_success(&kvflow_output(&args));
    out
}

/// 240 changes that put keys under three prefixes (`a_`, `B_`, `c_`), update and delete
/// them, with values of every kind (integers, text, maps, floats, NULL, a number as text);
/// out of order by less than 200 ms, so none is late under a bound of 200.
pub fn mixed_changes() -> String {
    let values = [
        "1",
        "2",
        "\"x\"",
        "3",
        "{\"a\":1}",
        "4.5",
        "null",
        "5",
        "\"7\"",
    ];
    let mut lines = String::new();
    for i in 0..240u64 {
        let key = format!("{}_{}", ["a", "B", "c"][(i % 3) as usize], i % 17);
        let ts = 1_000 + i * 37 - (i % 5) * 60;
        let line = match i % 11 {
            10 => format!("{{\"ts\":{ts},\"op\":\"delete\",\"key\":\"{key}\"}}"),
            _ => format!(
                "{{\"ts\":{ts},\"op\":\"put\",\"key\":\"{key}\",\"value\":{}}}",
                values[(i % 9) as usize]
            ),
        };
        lines.push_str(&line);
        lines.push('\n');
    }
    lines
}

/// The lines of the file at `path`, sorted (none if it does not exist).
pub fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// `path` under the repository root (dataflow files are relative to it).
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A path as an argument.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A process's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails with the status and stderr unless the process succeeded.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstderr:\n{}",
        output.status,
        stderr(output)
    );
}

/// `output` after [`assert_success`].
pub fn succeeded(output: Output) -> Output {
    assert_success(&output);
    output
}

/// Polls `check` every 10 ms until it returns `Some` (or fails after 30 s, naming `what`).
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll(what, Duration::from_millis(10), check)
}

/// Polls `check` every `period` until it returns `Some` (or fails after 30 s, naming `what`).
pub fn poll<T>(what: &str, period: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(period);
    }
}

/// A temporary directory holding a dataflow file, `flow.toml`, and a generated input,
/// `in.jsonl`: what most tests of the binary run.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// Writes `dataflow` and the output of `kvflow generate <generator>`.
    pub fn new(dataflow: &str, generator: &[&str]) -> Workdir {
        let dir = tmp();
        std::fs::write(dir.path().join("flow.toml"), dataflow).expect("write flow.toml");
        let generated = kvflow()
            .arg("generate")
            .args(generator)
            .arg("-o")
            .arg(dir.path().join("in.jsonl"))
            .output()
            .expect("run kvflow generate");
        assert_success(&generated);
        Workdir { dir }
    }

    /// `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `kvflow run flow.toml --input in.jsonl`, ready for more arguments.
    pub fn run(&self) -> Command {
        let mut command = kvflow();
        command
            .arg("run")
            .arg(self.path("flow.toml"))
            .arg("--input")
            .arg(self.path("in.jsonl"));
        command
    }
}

/// Every file of `dir` with its bytes, by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read output"))
        })
        .collect();
    out.sort();
    out
}

/// Each output's lines sorted, the part files of a cluster's processes merged under one name.
pub fn sorted_outputs(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, bytes) in files(dir) {
        let name = match file.find(".part-") {
            Some(at) => file[..at].to_string(),
            None => file.trim_end_matches(".jsonl").to_string(),
        };
        let text = String::from_utf8(bytes).expect("utf-8 output");
        by_name
            .entry(name)
            .or_default()
            .extend(text.lines().map(str::to_string));
    }
    by_name.values_mut().for_each(|lines| lines.sort());
    by_name
}

/// (seq, kind, key) of every change event the JSON Lines `input` makes, by a brute-force
/// replay into one shard state in input order.
pub fn change_events(input: &Path) -> Vec<(u64, String, String)> {
    let file = std::io::BufReader::new(std::fs::File::open(input).expect("input file"));
    let mut state = ShardState::default();
    let mut events = Vec::new();
    for item in JsonlReader::new(file) {
        let (seq, mutation) = item.expect("an input line");
        let ts = mutation.ts.expect("an event time");
        let ingest = Ingest::by_key(seq, 0, ts, mutation);
        if let Some(change) = state.apply(ingest) {
            let e = change.event;
            events.push((e.seq, e.kind.name().to_string(), e.key.to_string()));
        }
    }
    events
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Whether `tool` can be started (it answers `--version`).
pub fn tool_exists(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// The running test's name (the test harness names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

/// Says on stderr that the running test checks nothing, and why. It writes to the process's
/// stderr itself, past the test harness's capture, so the line shows in every run.
pub fn skipped(why: &str) {
    let line = format!("SKIPPED: {}: {why}\n", test_name());
    let _ = std::io::stderr().write_all(line.as_bytes());
}
