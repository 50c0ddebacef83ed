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
    "nexmark/q7",
    "nexmark/q8",
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
            assert!(a == b, "{twin}: {name} differs between the TOML and the SQL file");
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
