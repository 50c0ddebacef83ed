//! What a new user runs first, end to end through the `kvflow` binary: the examples of
//! `--help` as written, `-h` for help, stdout as JSON Lines, clear errors for lines that are
//! not JSON, and the summaries of `replay`, `bench` and `serve`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::{free_port, kvflow, s, stderr, succeeded, tmp as scratch};

/// Runs kvflow from the repository root, so the examples' relative paths hold.
fn kvflow_in_repo(args: &[&str]) -> Output {
    kvflow()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run kvflow")
}

fn assert_contains(text: &str, want: &str) {
    assert!(text.contains(want), "missing {want:?} in:\n{text}");
}

/// One output line: (output name, kind of line, the line as canonical JSON).
type Record = (String, String, String);

/// Every line of an `--output` directory as records, sorted.
fn dir_records(dir: &Path) -> Vec<Record> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let stem = file.strip_suffix(".jsonl").expect("a .jsonl file");
        let (name, kind) = [(".late", "late"), (".errors", "error"), (".final", "final")]
            .into_iter()
            .find_map(|(suffix, kind)| stem.strip_suffix(suffix).map(|name| (name, kind)))
            .unwrap_or((stem, "row"));
        for line in std::fs::read_to_string(&path).expect("output").lines() {
            let json: Json = serde_json::from_str(line).expect("a JSON line");
            records.push((name.to_string(), kind.to_string(), json.to_string()));
        }
    }
    records.sort();
    records
}

/// Every stdout line as a record; each must be a JSON object `{"pipeline":..,"<kind>":..}`.
fn stdout_records(stdout: &[u8]) -> Vec<Record> {
    let text = String::from_utf8(stdout.to_vec()).expect("utf-8 stdout");
    let mut records: Vec<Record> = text
        .lines()
        .map(|line| {
            let json: Json = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            let object = json.as_object().expect("a JSON object");
            assert_eq!(object.len(), 2, "{line}");
            let pipeline = object["pipeline"].as_str().expect("pipeline").to_string();
            let (kind, row) = object
                .iter()
                .find(|(key, _)| *key != "pipeline")
                .expect("a kind");
            (pipeline, kind.clone(), row.to_string())
        })
        .collect();
    records.sort();
    records
}

fn kinds(records: &[Record]) -> Vec<&str> {
    let mut kinds: Vec<&str> = records.iter().map(|r| r.1.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// The example lines of a command's `--help` (those starting with `kvflow `).
fn help_examples(command: &str) -> Vec<String> {
    let help = succeeded(kvflow_in_repo(&[command, "--help"]));
    String::from_utf8_lossy(&help.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("kvflow "))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_piped_example_of_run_help_reads_stdin_without_a_data_dir() {
    let example = "kvflow generate users-orders --events 10000 --seed 1 | \
                   kvflow run dataflows/orders_join.toml --input -";
    assert!(
        help_examples("run").iter().any(|line| line == example),
        "run --help shows the piped example"
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let generated = [
        "generate",
        "users-orders",
        "--events",
        "10000",
        "--seed",
        "1",
    ];
    let mut generate = kvflow()
        .args(generated)
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .expect("generate");
    let piped = kvflow()
        .args(["run", "dataflows/orders_join.toml", "--input", "-"])
        .current_dir(root)
        .stdin(generate.stdout.take().expect("generate's stdout"))
        .output()
        .expect("run");
    assert!(generate.wait().expect("generate").success());
    let piped = succeeded(piped);

    let dir = scratch();
    let input = dir.path().join("input.jsonl");
    let to_file = [&generated[..], &["-o", s(&input)]].concat();
    succeeded(kvflow_in_repo(&to_file));
    let from_file = succeeded(kvflow_in_repo(&[
        "run",
        "dataflows/orders_join.toml",
        "--input",
        s(&input),
    ]));
    let records = stdout_records(&piped.stdout);
    assert!(!records.is_empty(), "the piped run wrote rows");
    assert_eq!(records, stdout_records(&from_file.stdout));
    assert_contains(&stderr(&piped), "events in: 10000 ");
}

/// Stdin is read by worker 0, which routes each mutation to its key's shard (three workers:
/// not a power of two); a file is walked by every worker, each feeding its own shard. Both
/// must give one worker's rows.
#[test]
fn stdin_routed_by_key_and_a_file_fed_by_owners_give_the_same_rows() {
    let dir = scratch();
    let input = dir.path().join("input.jsonl");
    succeeded(kvflow_in_repo(&[
        "generate",
        "keyed-stream",
        "--events",
        "20000",
        "--keys",
        "3000",
        "--rate-per-sec",
        "400",
        "--disorder-ms",
        "300",
        "--seed",
        "3",
        "-o",
        s(&input),
    ]));
    let flow = "dataflows/window_counts.toml";
    let from_file = |workers: &str| {
        let output = kvflow_in_repo(&["run", flow, "--input", s(&input), "-w", workers]);
        stdout_records(&succeeded(output).stdout)
    };
    let piped = kvflow()
        .args(["run", flow, "--input", "-", "-w", "3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::fs::File::open(&input).expect("input"))
        .output()
        .expect("run");
    let one = from_file("1");
    assert!(one.len() > 1000, "rows written: {}", one.len());
    assert_eq!(stdout_records(&succeeded(piped).stdout), one);
    assert_eq!(from_file("2"), one);
    assert_eq!(from_file("3"), one);
}

#[test]
fn stdout_is_json_lines_with_the_rows_of_the_output_files() {
    let dir = scratch();
    // window_counts over zipf: rows, late rows (disorder past the 200 ms allowed) and errors
    // (CAST of the workload's maps to INT); live_table: a final state.
    let cases: [(&str, &[&str]); 2] = [
        (
            "dataflows/window_counts.toml",
            &[
                "--generate",
                "zipf",
                "--events",
                "3000",
                "--disorder-ms",
                "400",
            ],
        ),
        ("dataflows/live_table.toml", &[]),
    ];
    for (index, (file, input)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("out-{index}"));
        let mut to_dir = vec!["run", file, "--output", s(&out)];
        to_dir.extend(input);
        succeeded(kvflow_in_repo(&to_dir));
        let expected = dir_records(&out);

        let mut to_stdout = vec!["run", file];
        to_stdout.extend(input);
        let printed = stdout_records(&succeeded(kvflow_in_repo(&to_stdout)).stdout);
        assert_eq!(printed, expected, "{file}");
        let want_kinds: &[&str] = match index {
            0 => &["error", "late", "row"],
            _ => &["final", "row"],
        };
        assert_eq!(kinds(&printed), want_kinds, "{file}");

        let mut one = to_stdout.clone();
        let pipeline = expected[0].0.clone();
        one.extend(["--pipeline", &pipeline]);
        let only = stdout_records(&succeeded(kvflow_in_repo(&one)).stdout);
        let expected_one: Vec<Record> = expected.into_iter().filter(|r| r.0 == pipeline).collect();
        assert_eq!(only, expected_one, "{file} --pipeline {pipeline}");
    }
    let unknown = kvflow_in_repo(&["run", "dataflows/live_table.toml", "--pipeline", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_contains(
        &stderr(&unknown),
        "--pipeline nope: no such pipeline (the file has: live)",
    );
}

#[test]
fn dash_h_is_help_for_every_command_and_the_host_file_is_capital_h() {
    let commands = [
        "run", "check", "explain", "generate", "bench", "watch", "serve", "replay",
    ];
    for command in commands {
        let output = kvflow_in_repo(&[command, "-h"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command} -h: {}",
            stderr(&output)
        );
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage: kvflow"), "{command} -h: {help}");
    }
    let run_help = String::from_utf8_lossy(&kvflow_in_repo(&["run", "--help"]).stdout).to_string();
    assert_contains(&run_help, "-H, --hostfile <HOSTFILE>");
    let dir = scratch();
    let hosts = dir.path().join("hosts.txt");
    let port = free_port();
    std::fs::write(&hosts, format!("127.0.0.1:{port}\n")).expect("hosts");
    let out = dir.path().join("out");
    let single = ["-n", "1", "-H", s(&hosts), "--output", s(&out)];
    let mut args = vec!["run", "dataflows/window_counts.toml"];
    args.extend(single);
    succeeded(kvflow_in_repo(&args));
    assert!(out.join("tumbling.jsonl").is_file());
}

/// The error a run reports for `line` as the second line of its input.
fn bad_line_error(dir: &Path, line: &[u8]) -> String {
    let input = dir.join("events.jsonl");
    let mut text = b"{\"ts\":1,\"key\":\"a_1\",\"value\":1}\n".to_vec();
    text.extend_from_slice(line);
    text.push(b'\n');
    std::fs::write(&input, text).expect("input");
    let output = kvflow_in_repo(&["run", "dataflows/live_table.toml", "--input", s(&input)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    let error = message
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {message}"));
    error.replace(s(&input), "events.jsonl")
}

#[test]
fn a_line_that_is_not_json_is_named_so_with_its_start() {
    let dir = scratch();
    let cases: [(&[u8], &str); 5] = [
        (
            b"hello world, this is not an event at all, just text",
            r#"error: events.jsonl:2: not a JSON object: "hello world, this is not an event at all…""#,
        ),
        (
            b"{\"ts\":2,\"key\":\"a_2\",\"val",
            r#"error: events.jsonl:2: not valid JSON (EOF while parsing a string at column 24): "{\"ts\":2,\"key\":\"a_2\",\"val""#,
        ),
        (
            b"\x7fELF\x02\x01\x01\x00\x00\x00",
            r#"error: events.jsonl:2: not a JSON object: "\u{7f}ELF\u{2}\u{1}\u{1}\0\0\0""#,
        ),
        (
            b"\xff\xfe{\x00\"\x00",
            "error: events.jsonl:2: not valid JSON (invalid UTF-8 at byte 0): \
             \"\u{fffd}\u{fffd}{\\0\\\"\\0\"",
        ),
        (
            b"\x1b[2J\x1b]0;title\x07",
            r#"error: events.jsonl:2: not a JSON object: "\u{1b}[2J\u{1b}]0;title\u{7}""#,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(bad_line_error(dir.path(), line), want, "{line:?}");
    }
}

#[test]
fn replay_counts_the_events_it_replays() {
    let dir = scratch();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let file = "dataflows/window_counts.toml";
    let run = succeeded(kvflow_in_repo(&[
        "run",
        file,
        "--data-dir",
        s(&data),
        "--output",
        s(&out),
    ]));
    assert_contains(&stderr(&run), "events in: 240 ");
    let replayed = dir.path().join("replayed");
    let replay = succeeded(kvflow_in_repo(&[
        "replay",
        "--data-dir",
        s(&data),
        file,
        "--output",
        s(&replayed),
    ]));
    assert_contains(&stderr(&replay), "events in: 240 ");
    assert_eq!(dir_records(&replayed), dir_records(&out));
}

/// The first data row of `bench`'s console table: its cells by column name.
fn bench_table(stdout: &[u8]) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(stdout);
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    assert!(
        header
            .trim_end()
            .ends_with("rows out        late      errors"),
        "{header}"
    );
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    let cell = |from_end: usize| row[row.len() - from_end].parse().expect("a count");
    [("rows out", 3), ("late", 2), ("errors", 1)]
        .into_iter()
        .map(|(name, from_end)| (name.to_string(), cell(from_end)))
        .collect()
}

/// Lines of each kind that `kvflow run` writes for `file` over the generated input.
fn run_counts(file: &str, generator: &[&str], out: &Path) -> BTreeMap<String, u64> {
    let mut args = vec!["run", file, "--generate"];
    args.extend(generator);
    args.extend(["--output", s(out)]);
    succeeded(kvflow_in_repo(&args));
    let mut counts: BTreeMap<String, u64> = ["rows out", "late", "errors"]
        .into_iter()
        .map(|name| (name.to_string(), 0))
        .collect();
    for (_, kind, _) in dir_records(out) {
        let column = match kind.as_str() {
            "row" => "rows out",
            "late" => "late",
            "error" => "errors",
            other => panic!("unexpected output kind {other}"),
        };
        *counts.get_mut(column).expect("column") += 1;
    }
    counts
}

#[test]
fn bench_shows_late_and_error_rows_and_its_zipf_example_has_none() {
    let dir = scratch();
    let generator = [
        "zipf",
        "--events",
        "4000",
        "--keys",
        "50",
        "--disorder-ms",
        "400",
    ];
    let mut args = vec!["bench", "dataflows/window_counts.toml", "--workload"];
    args.extend(generator);
    let results = dir.path().join("bench");
    args.extend(["--repeat", "1", "--out", s(&results)]);
    let bench = succeeded(kvflow_in_repo(&args));
    let shown = bench_table(&bench.stdout);
    let expected = run_counts(
        "dataflows/window_counts.toml",
        &generator,
        &dir.path().join("run"),
    );
    assert_eq!(shown, expected);
    assert!(
        expected["late"] > 0 && expected["errors"] > 0,
        "{expected:?}"
    );
    let warning = format!(
        "warning: the pipelines wrote {} error rows for 4000 events",
        expected["errors"]
    );
    assert_contains(&stderr(&bench), &warning);

    let example = help_examples("bench")
        .into_iter()
        .find(|line| line.contains("--workload zipf"))
        .expect("a zipf example in bench --help");
    let mut example: Vec<String> = example
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    let events = example
        .iter()
        .position(|a| a == "--events")
        .expect("--events");
    example[events + 1] = "20000".into();
    example.extend(["--repeat", "1", "--out"].map(String::from));
    example.push(dir.path().join("example").display().to_string());
    let args: Vec<&str> = example.iter().map(String::as_str).collect();
    let bench = succeeded(kvflow_in_repo(&args));
    let shown = bench_table(&bench.stdout);
    assert_eq!(
        shown["errors"], 0,
        "the example measures its query, not errors"
    );
    assert!(shown["rows out"] > 0, "{shown:?}");
    assert!(!stderr(&bench).contains("warning"), "{}", stderr(&bench));
}

/// Sends `SET key value` over RESP and reads the reply.
fn set(port: u16, key: &str, value: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let request = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"+OK\r\n");
}

const SERVE_FLOW: &str = r#"
[sources.sets]
view = "events"

[[pipelines]]
name = "per_key"
from = "sets"
steps = [{ aggregates = { n = "count(*)" }, group_by = ["key"] }]

[[alerts]]
name = "seen"
from = "per_key"
condition = "n >= 2"
message = "{key} set {n} times"
deliver = [{ kind = "log" }]

[routing.handlers.all]
kind = "each"

[[routes]]
name = "users"
key_regex = "^user_"
handlers = ["all"]
"#;

#[test]
fn serve_prints_its_sinks_summary_when_it_shuts_down() {
    let dir = scratch();
    let flow = dir.path().join("flow.toml");
    std::fs::write(&flow, SERVE_FLOW).expect("flow");
    let out = dir.path().join("out");
    let log = dir.path().join("stderr.txt");
    let port = free_port();
    let mut serve = kvflow()
        .args(["serve", s(&flow), "--output", s(&out), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve");
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("ready on")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for key in ["user_1", "order_1", "user_1", "user_2", "user_1"] {
        set(port, key, "1");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(serve.wait().expect("serve exit").success());
    let text = std::fs::read_to_string(&log).expect("stderr");
    // Writes of one batch are consolidated, so rows and alerts are counted from the files.
    let lines = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .lines()
            .count()
    };
    let (rows, alerts) = (lines("per_key.jsonl"), lines("seen.alerts.jsonl"));
    assert!(rows >= 3 && alerts >= 1, "{rows} rows, {alerts} alerts");
    for want in [
        "events in: 5 ".to_string(),
        format!("  per_key: rows out {rows}, late 0, errors 0"),
        format!(
            "alert seen: {alerts} fired, 0 suppressed, 0 undelivered, 0 retries, \
             back-pressured 0 times"
        ),
        "routes: 4 routed, 1 unrouted, 4 handler calls".to_string(),
    ] {
        assert_contains(&text, &want);
    }
}

/// `--events` and `--seed` apply to a file's own generator too (`SET input.generate`), so a
/// Nexmark file runs as long as asked: the summary counts the events given, and a different
/// seed gives different rows. Over a file input they are refused, not ignored.
#[test]
fn generator_options_apply_to_the_files_own_generator() {
    let run = |extra: &[&str]| {
        let args = [
            &["run", "dataflows/nexmark/q0.sql", "--events", "777"][..],
            extra,
        ]
        .concat();
        succeeded(kvflow_in_repo(&args))
    };
    let (first, again, other) = (run(&[]), run(&[]), run(&["--seed", "9"]));
    assert_contains(&stderr(&first), "events in: 777 ");
    assert_eq!(first.stdout, again.stdout);
    assert_ne!(first.stdout, other.stdout, "the seed reaches the generator");
    let from_file = kvflow_in_repo(&["run", "dataflows/window_counts.toml", "--events", "10"]);
    assert_eq!(
        from_file.status.code(),
        Some(2),
        "a file input takes no --events"
    );
    assert_contains(&stderr(&from_file), "`--events` applies to a generator");
}
