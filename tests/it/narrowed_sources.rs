//! Sources fill in only the fields their pipeline reads (`plan::projection`). Whatever a
//! source leaves out, every output must be what the whole rows give: error lines print the
//! failing step's input row whole, late lines print the late row whole. The pipelines here
//! (a map with a cast, a session aggregate with a sum over the source, a filter that compares
//! the value, a table view with retractions) meet values that break the narrowing's
//! assumptions (strings and maps where integers are expected) and a late event; the expected
//! files are the output of the engine before sources were narrowed, sorted.

use crate::support::{kvflow, repo, sorted_lines, tmp};

#[test]
fn narrowed_sources_print_whole_rows_in_error_and_late_lines() {
    let dir = repo("tests/it/narrowed_sources");
    let expected = dir.join("expected");
    for workers in ["1", "2"] {
        let out = tmp();
        let status = kvflow()
            .arg("run")
            .arg(dir.join("flow.toml"))
            .arg("--input")
            .arg(dir.join("input.jsonl"))
            .arg("--output")
            .arg(out.path())
            .args(["-w", workers])
            .output()
            .expect("run kvflow");
        assert!(status.status.success(), "{status:?}");
        let mut names: Vec<_> = std::fs::read_dir(&expected)
            .expect("expected/")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), 10);
        for name in names {
            assert_eq!(
                sorted_lines(&out.path().join(&name)),
                sorted_lines(&expected.join(&name)),
                "{name:?} with {workers} workers"
            );
        }
    }
}
