//! Each SQL twin in `dataflows/` and its TOML file, run by `kvflow run` on the same default
//! input: the same output files, byte for byte.

use crate::support::{assert_success, files, kvflow, repo, s, tmp};

const TWINS: &[&str] = &[
    "window_counts",
    "quickstart",
    "live_table",
    "orders_join",
    "zipf_windows",
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

fn run_outputs(file: &str) -> Vec<(String, Vec<u8>)> {
    let dir = tmp();
    let out = kvflow()
        .args(["run", s(&repo(file)), "--output", s(dir.path())])
        .output()
        .expect("run kvflow");
    assert_success(&out);
    files(dir.path())
}

#[test]
fn every_sql_twin_writes_the_same_files_as_its_toml_file() {
    for twin in TWINS {
        let toml = run_outputs(&format!("dataflows/{twin}.toml"));
        let sql = run_outputs(&format!("dataflows/{twin}.sql"));
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
}

#[test]
fn every_shipped_sql_file_has_a_toml_twin_in_the_test() {
    for dir in ["dataflows", "dataflows/nexmark"] {
        for entry in std::fs::read_dir(repo(dir)).expect("dataflows") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "sql") {
                let stem = path.file_stem().expect("stem").to_string_lossy();
                let name = match dir {
                    "dataflows" => stem.to_string(),
                    _ => format!("nexmark/{stem}"),
                };
                assert!(TWINS.contains(&name.as_str()), "{name}.sql is not in TWINS");
            }
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
