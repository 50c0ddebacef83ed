//! Each SQL twin in `dataflows/` and its TOML file, run by `kvflow run` on the same default
//! input: the same output files, byte for byte.

use crate::support::{assert_success, files, kvflow, repo, s, tmp};

const TWINS: &[&str] = &[
    "window_counts",
    "quickstart",
    "live_table",
    "orders_join",
    "zipf_windows",
    "alerts",
    "routes",
    "nexmark/q0",
    "nexmark/q1",
    "nexmark/q2",
    "nexmark/q3",
    "nexmark/q4",
    "nexmark/q5",
    "nexmark/q5_join",
    "nexmark/q7",
    "nexmark/q11",
    "nexmark/q8",
    "nexmark/q9",
    "nexmark/q15",
    "nexmark/q16",
    "nexmark/q17",
    "nexmark/q18",
    "nexmark/q19",
    "nexmark/q20",
    "nexmark/q21",
    "nexmark/q22",
];

/// Twins whose outputs are a server's state: `sinks::dataflow_files` runs each of them and
/// its TOML file against the real server and compares both with the oracle (run here, they
/// would write the tables that test reads).
const SERVER_TWINS: &[&str] = &["sync_postgres", "sync_redis"];

/// The `kvflow serve` dataflows, which have no input of their own: run on [`SERVE_INPUT`].
const SERVE_TWINS: &[&str] = &["serve/orders", "serve/set_counts", "serve/sets_log"];

/// Keys of the forms the serve dataflows read, with updates and deletes.
const SERVE_INPUT: &str = r#"{"key":"order:1","value":{"user":"ada","amount":30},"ts":1}
{"key":"order:2","value":{"user":"bob","amount":"12"},"ts":2}
{"key":"order:1","value":{"user":"ada","amount":40},"ts":3}
{"key":"user:1","value":"x","ts":4}
{"key":"order:3","value":{"user":"ada","amount":5},"ts":5}
{"key":"order:2","op":"delete","ts":6}
{"key":"session:9","value":{"n":1},"ts":7}
"#;

/// Runs `file` on its default input, or on `input` when given.
fn run_outputs(file: &str, input: Option<&std::path::Path>) -> Vec<(String, Vec<u8>)> {
    let dir = tmp();
    let mut command = kvflow();
    command.args(["run", s(&repo(file)), "--output", s(dir.path())]);
    if let Some(input) = input {
        command.args(["--input", s(input)]);
    }
    let out = command.output().expect("run kvflow");
    assert_success(&out);
    files(dir.path())
}

#[test]
fn every_sql_twin_writes_the_same_files_as_its_toml_file() {
    for twin in TWINS {
        assert_twins_write_the_same(twin, None);
    }
}

#[test]
fn every_serve_twin_writes_the_same_files_as_its_toml_file() {
    let dir = tmp();
    let input = dir.path().join("serve.jsonl");
    std::fs::write(&input, SERVE_INPUT).expect("input");
    for twin in SERVE_TWINS {
        assert_twins_write_the_same(twin, Some(&input));
    }
}

fn assert_twins_write_the_same(twin: &str, input: Option<&std::path::Path>) {
    let toml = run_outputs(&format!("dataflows/{twin}.toml"), input);
    let sql = run_outputs(&format!("dataflows/{twin}.sql"), input);
    assert!(!toml.is_empty(), "{twin}: the TOML file wrote nothing");
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&sql), names(&toml), "{twin}: different output files");
    for ((name, a), (_, b)) in toml.iter().zip(&sql) {
        assert!(
            a == b,
            "{twin}: {name} differs between the TOML and the SQL file"
        );
    }
}

#[test]
fn every_shipped_dataflow_has_its_twin_in_the_test() {
    let tested: Vec<&str> = [TWINS, SERVER_TWINS, SERVE_TWINS].concat();
    for dir in ["dataflows", "dataflows/nexmark", "dataflows/serve"] {
        for entry in std::fs::read_dir(repo(dir)).expect("dataflows") {
            let path = entry.expect("entry").path();
            let Some(ext) = path.extension().filter(|e| *e == "sql" || *e == "toml") else {
                continue;
            };
            let stem = path.file_stem().expect("stem").to_string_lossy();
            let name = match dir.strip_prefix("dataflows/") {
                Some(sub) => format!("{sub}/{stem}"),
                None => stem.to_string(),
            };
            let twin = path.with_extension(if ext == "sql" { "toml" } else { "sql" });
            assert!(twin.exists(), "{} has no twin", path.display());
            assert!(tested.contains(&name.as_str()), "{name} is not in TWINS");
        }
    }
}

/// A view (SQL) and an internal pipeline (TOML) feed later statements and write no rows.
#[test]
fn views_and_internal_pipelines_feed_later_ones_and_write_no_rows() {
    let dir = tmp();
    let input = repo("dataflows/window_counts.input.jsonl");
    let sql = "CREATE SOURCE events FROM events;
        CREATE VIEW prefixed AS SELECT split_part(key, '_', 1) AS prefix, ts FROM events;
        INSERT INTO per_prefix SELECT prefix, count(*) AS n FROM prefixed GROUP BY prefix;";
    let toml = r#"
        [sources.events]
        view = "events"
        [[pipelines]]
        name = "prefixed"
        from = "events"
        internal = true
        steps = [{ map = { prefix = "split_part(key, '_', 1)", ts = "ts" } }]
        [[pipelines]]
        name = "per_prefix"
        from = "prefixed"
        steps = [{ group_by = ["prefix"], aggregates = { n = "count(*)" } }]
        "#;
    let visible = toml.replace("internal = true", "");
    let mut outputs = Vec::new();
    for (name, text) in [("v.sql", sql), ("v.toml", toml), ("visible.toml", &visible)] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        let out_dir = dir.path().join(format!("out-{name}"));
        let out = kvflow()
            .args([
                "run",
                s(&file),
                "--input",
                s(&input),
                "--output",
                s(&out_dir),
            ])
            .output()
            .expect("run kvflow");
        assert_success(&out);
        outputs.push(files(&out_dir));
    }
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&outputs[0]), ["per_prefix.jsonl"]);
    assert_eq!(
        outputs[0], outputs[1],
        "the SQL view and the TOML internal pipeline"
    );
    assert_eq!(
        names(&outputs[2]),
        ["per_prefix.jsonl", "prefixed.jsonl"],
        "without `internal` the pipeline is written"
    );
    assert_eq!(
        outputs[2][0], outputs[0][0],
        "and the rows it feeds are the same"
    );
}
