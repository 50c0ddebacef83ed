//! `kvflow run` under faults and hostile input (issue 13): outputs on a full disk or in an
//! unwritable directory, file names that try to leave `--output`, event times and window
//! bounds that would overflow, windows that would exhaust memory, and a damaged data
//! directory. Each test runs the binary and checks its exit code, its message, and what it
//! left on disk.
//!
//! The full-disk and read-only tests mount a small tmpfs, which needs root; without it they
//! print why and pass without checking anything.

use std::path::PathBuf;
use std::process::Output;

use crate::support::tmpfs::Tmpfs;
use crate::support::{Workdir, assert_success, kvflow, s, stderr};

/// A dataflow file with one pipeline `name` over the events, made of `steps` (TOML). Its
/// steps start on line 7.
fn events_pipeline(name: &str, steps: &str) -> String {
    format!(
        "[sources.events]\nview = \"events\"\n\n[[pipelines]]\nname = \"{name}\"\n\
         from = \"events\"\n{steps}"
    )
}

/// One output row per event: enough rows to fill a small disk.
fn every_event() -> String {
    events_pipeline(
        "rows",
        "[[pipelines.steps]]\nmap = { key = \"key\", ts = \"ts\", v = \"value\" }\n",
    )
}

/// A scratch directory with a dataflow file and a generated input.
struct Scratch {
    work: Workdir,
}

impl Scratch {
    fn new(dataflow: &str, events: u32) -> Scratch {
        let events = events.to_string();
        let generator = [
            "uniform", "--keys", "500", "--seed", "3", "--events", &events,
        ];
        Scratch {
            work: Workdir::new(dataflow, &generator),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path(name)
    }

    /// `kvflow run flow.toml --input in.jsonl` with `extra` arguments.
    fn run(&self, extra: &[&str]) -> Output {
        self.work.run().args(extra).output().expect("run")
    }
}
#[test]
fn a_full_disk_fails_the_run_naming_the_file() {
    let scratch = Scratch::new(&every_event(), 6000);
    let disk = scratch.path("disk");
    let Some(_mounted) = Tmpfs::mount(&disk, "size=64k") else {
        return;
    };
    let out = disk.join("out");
    let output = scratch.run(&["--output", s(&out)]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    let file = out.join("rows.jsonl");
    assert!(
        message.contains(&format!("cannot write {}", file.display())),
        "{message}"
    );
    assert!(message.contains("No space left on device"), "{message}");
    assert!(
        !message.contains("rows out"),
        "no summary of rows it did not write: {message}"
    );
}

#[test]
fn a_read_only_output_directory_fails_before_the_run() {
    let scratch = Scratch::new(&every_event(), 100);
    let disk = scratch.path("ro");
    let Some(_mounted) = Tmpfs::mount(&disk, "size=64k,ro") else {
        return;
    };
    let output = scratch.run(&["--output", s(&disk)]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains(&format!(
            "cannot write to the output directory {}",
            disk.display()
        )),
        "{message}"
    );
    assert!(message.contains("Read-only file system"), "{message}");
}

#[test]
fn an_output_directory_under_a_regular_file_is_an_error_naming_it() {
    let scratch = Scratch::new(&every_event(), 100);
    let file = scratch.path("a-file");
    std::fs::write(&file, "not a directory").expect("file");
    let out = file.join("out");
    let output = scratch.run(&["--output", s(&out)]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains(s(&out)), "{message}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("file"),
        "not a directory"
    );
}

/// `kvflow check` on `dataflow`: exit code 2 and an error at `file:line:column` that says
/// `message`.
fn assert_check_refuses(dataflow: &str, line_col: (usize, usize), message: &str) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("flow.toml");
    std::fs::write(&file, dataflow).expect("dataflow");
    let output = kvflow().arg("check").arg(&file).output().expect("check");
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    let at = format!("flow.toml:{}:{}: ", line_col.0, line_col.1);
    assert!(error.contains(&at), "want {at}: {error}");
    assert!(error.contains(message), "want {message:?}: {error}");
}

/// A count of all events (its pipeline ends on line 7).
fn counts() -> String {
    events_pipeline(
        "counts",
        "steps = [{ aggregates = { n = \"count(*)\" } }]\n",
    )
}

#[test]
fn names_that_become_file_names_cannot_leave_the_output_directory() {
    let counts = counts();
    for name in ["../../x", "/tmp/x"] {
        let alert = format!(
            "{counts}\n[[alerts]]\nname = \"{name}\"\nfrom = \"counts\"\ncondition = \"n > 0\"\n"
        );
        assert_check_refuses(&alert, (10, 9), &format!("`{name}` is not a valid name"));
        let sync = format!(
            "{counts}\n[[sync]]\nname = \"{name}\"\nkeys = [\"^k\"]\n\
             target = {{ kind = \"redis\", url = \"redis://127.0.0.1:1/\" }}\n"
        );
        assert_check_refuses(&sync, (10, 9), "is not a valid name");
        let handler = format!(
            "{counts}\n[routing.handlers.\"{name}\"]\nkind = \"each\"\n\n\
             [[routes]]\nname = \"all\"\nhandlers = [\"{name}\"]\n"
        );
        assert_check_refuses(&handler, (9, 20), "is not a valid name");
    }
    // The run refuses the file too, and writes nothing outside --output.
    let scratch = Scratch::new(
        &format!(
            "{counts}\n[[alerts]]\nname = \"../escaped\"\nfrom = \"counts\"\ncondition = \"n > 0\"\n"
        ),
        50,
    );
    let out = scratch.path("out");
    let output = scratch.run(&["--output", s(&out)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!scratch.path("escaped.alerts.jsonl").exists());
}

/// A count per `window` (TOML, on line 11) of the events, with `ts` as the expression
/// `ts` computes it.
fn windowed(ts: &str, window: &str) -> String {
    events_pipeline(
        "w",
        &format!(
            "[[pipelines.steps]]\nmap = {{ ts = \"{ts}\" }}\n\n[[pipelines.steps]]\n\
             window = {window}\naggregates = {{ n = \"count(*)\" }}\n"
        ),
    )
}

#[test]
fn event_times_out_of_range_are_bad_lines_with_their_line_number() {
    let scratch = Scratch::new(&windowed("ts", "{ kind = \"tumbling\", size = 1000 }"), 1);
    let input = scratch.path("in.jsonl");
    std::fs::write(
        &input,
        "{\"ts\":1000,\"key\":\"a\"}\n\
         {\"ts\":18446744073709551615,\"key\":\"b\"}\n\
         {\"ts\":9223372036854775807,\"key\":\"c\"}\n\
         {\"ts\":253402300799999,\"key\":\"d\"}\n",
    )
    .expect("input");
    let failed = scratch.run(&[]);
    let message = stderr(&failed);
    assert_eq!(failed.status.code(), Some(2), "{message}");
    assert!(
        message.contains("in.jsonl:2: `ts` 18446744073709551615 is out of range: event times are 0..=253402300799999 ms"),
        "{message}"
    );
    let out = scratch.path("out");
    let skipped = scratch.run(&["--on-bad-input", "skip", "--output", s(&out)]);
    assert_success(&skipped);
    let bad = std::fs::read_to_string(out.join("bad-input.jsonl")).expect("bad input");
    let lines: Vec<u64> = bad
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["line"]
                .as_u64()
                .expect("line")
        })
        .collect();
    assert_eq!(lines, vec![2, 3]);
    let rows = std::fs::read_to_string(out.join("w.jsonl")).expect("rows");
    assert_eq!(
        rows,
        "{\"window_start\":1000,\"window_end\":2000,\"n\":1}\n\
         {\"window_start\":253402300799000,\"window_end\":253402300800000,\"n\":1}\n"
    );
}

#[test]
fn window_parameters_that_could_overflow_are_refused_by_check() {
    let big = "9223372036854775807";
    let cases = [
        (
            format!("{{ kind = \"session\", gap = {big} }}"),
            11,
            30,
            "window gap 9223372036854775807 is too large: at most 253402300799999 ms",
        ),
        (
            format!("{{ kind = \"tumbling\", size = {big} }}"),
            11,
            31,
            "window size",
        ),
        (
            format!("{{ kind = \"sliding\", size = 1000, slide = {big} }}"),
            11,
            43,
            "window slide",
        ),
        (
            format!("{{ kind = \"tumbling\", size = 10, allowed_lateness = {big} }}"),
            11,
            42,
            "window allowed_lateness",
        ),
    ];
    for (window, line, column, message) in cases {
        assert_check_refuses(&windowed("ts", &window), (line, column), message);
    }
}

#[test]
fn a_computed_event_time_out_of_range_is_an_error_row_not_a_negative_window() {
    let scratch = Scratch::new(
        &windowed(
            "9223372036854775000",
            "{ kind = \"tumbling\", size = 1000 }",
        ),
        1,
    );
    let puts: String = (0..5)
        .map(|i| format!("{{\"ts\":{i},\"key\":\"k{i}\",\"value\":{i}}}\n"))
        .collect();
    std::fs::write(scratch.path("in.jsonl"), puts).expect("input");
    let out = scratch.path("out");
    assert_success(&scratch.run(&["--output", s(&out)]));
    assert!(!out.join("w.jsonl").exists(), "no window rows");
    let errors = std::fs::read_to_string(out.join("w.errors.jsonl")).expect("errors");
    assert_eq!(errors.lines().count(), 5);
    assert!(
        errors
            .lines()
            .all(|l| l.contains("window needs ts within 0..=253402300799999 ms")),
        "{errors}"
    );
}

#[test]
fn a_sliding_window_in_too_many_windows_per_event_is_refused_with_the_bound() {
    assert_check_refuses(
        &windowed("ts", "{ kind = \"sliding\", size = 1000000000, slide = 1 }"),
        (11, 49),
        "puts every event in 1000000000 windows; at most 1000 are allowed (size / slide <= 1000)",
    );
    let scratch = Scratch::new(
        &windowed("ts", "{ kind = \"sliding\", size = 1000, slide = 1 }"),
        30,
    );
    assert_success(&scratch.run(&["--output", s(&scratch.path("out"))]));
}

#[test]
fn a_cut_bad_line_says_so_in_its_record() {
    let scratch = Scratch::new(&every_event(), 1);
    let long = format!("{{\"key\":\"{}\",\"op\":\"nope\"}}", "k".repeat(3000));
    std::fs::write(scratch.path("in.jsonl"), format!("{long}\n{{\"key\":1}}\n")).expect("input");
    let out = scratch.path("out");
    assert_success(&scratch.run(&["--on-bad-input", "skip", "--output", s(&out)]));
    let bad = std::fs::read_to_string(out.join("bad-input.jsonl")).expect("bad input");
    let records: Vec<serde_json::Value> = bad
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["text"].as_str().expect("text"), &long[..1000]);
    assert_eq!(records[0]["truncated"], true);
    assert_eq!(records[0]["bytes"].as_u64(), Some(long.len() as u64));
    assert_eq!(records[1]["text"], "{\"key\":1}");
    assert!(records[1].get("truncated").is_none() && records[1].get("bytes").is_none());
}

impl Scratch {
    /// A durable run into `out` with `data` as its data directory.
    fn durable(&self, workers: &str) -> Output {
        self.run(&[
            "--output",
            s(&self.path("out")),
            "--data-dir",
            s(&self.path("data")),
            "--checkpoint-every",
            "500",
            "-w",
            workers,
        ])
    }
}

fn assert_refused(output: &Output, parts: &[&str]) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    for part in parts {
        assert!(message.contains(part), "want {part:?}: {message}");
    }
}

#[test]
fn a_data_directory_refuses_a_missing_shard_and_another_worker_count() {
    let scratch = Scratch::new(&every_event(), 3000);
    assert_success(&scratch.durable("2"));
    let data = scratch.path("data");
    let manifest = std::fs::read_to_string(data.join("manifest.json")).expect("manifest");
    assert_eq!(manifest, "{\"version\":1,\"shards\":2}");
    assert_refused(
        &scratch.durable("3"),
        &["with 2 shards", "this run has 3: run it with -w 2"],
    );
    let watch = |from: &str| {
        kvflow()
            .args(["watch", "--data-dir", s(&data), "--from", from])
            .output()
            .expect("watch")
    };
    assert_refused(
        &watch("7:5"),
        &[
            "token 7:5 names shard 7, which does not exist",
            "has 2 shard(s), 0 to 1",
        ],
    );
    assert_success(&watch("1:5"));
    std::fs::remove_dir_all(data.join("shard-1")).expect("remove shard-1");
    let missing = format!("{} is missing", data.join("shard-1").display());
    for workers in ["1", "2"] {
        assert_refused(&scratch.durable(workers), &[&missing, "records 2 shards"]);
    }
    assert_refused(&watch("0:5"), &[&missing]);
    assert!(
        !data.join("shard-1").exists(),
        "nothing recreated the lost shard"
    );
}

#[test]
fn an_output_shorter_than_its_checkpoint_is_refused_with_both_lengths() {
    let scratch = Scratch::new(&every_event(), 3000);
    assert_success(&scratch.durable("1"));
    let rows = scratch.path("out").join("rows.jsonl");
    let full = std::fs::metadata(&rows).expect("rows").len();
    let cut = full / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&rows)
        .and_then(|f| f.set_len(cut))
        .expect("cut the output");
    assert_refused(
        &scratch.durable("1"),
        &[
            &format!("cannot resume {}", rows.display()),
            &format!("it holds {cut} bytes, but the checkpoint recorded {full} bytes"),
            "`--repair` repairs logs, not outputs",
        ],
    );
    assert_eq!(std::fs::metadata(&rows).expect("rows").len(), cut);
}
