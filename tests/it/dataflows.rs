//! Every dataflow file in `dataflows/` runs on its own input and must produce exactly the
//! expected output kept beside it (`dataflows/expected/<file>/<pipeline>[.kind].jsonl`, sorted),
//! with 1 worker and with 4. `KVFLOW_BLESS=1 cargo test --test dataflows` rewrites the
//! expected files after a deliberate change (review the diff).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kvflow::dataflow_file::{DefaultInput, load_file};
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::capture::Capture;

use crate::support::repo;

const KINDS: [OutputKind; 4] = [
    OutputKind::Rows,
    OutputKind::Late,
    OutputKind::Errors,
    OutputKind::Final,
];

fn dataflow_files() -> Vec<PathBuf> {
    let dir = repo("dataflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dataflows/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Runs a file on its default input; returns (file name of each output, sorted lines).
fn run_file(path: &Path, workers: usize) -> Vec<(String, Vec<String>)> {
    let loaded = load_file(path).unwrap_or_else(|e| panic!("{e}"));
    let input = match loaded.input.expect("a shipped dataflow has an [input]") {
        DefaultInput::File(file) => InputSource::Jsonl(file),
        DefaultInput::Generate { workload, config } => InputSource::Generate { workload, config },
    };
    let capture = Capture::new();
    let mut plan = loaded.plan;
    // Sync sinks and alerts deliver to services; tests/sinks checks them against those.
    plan.sinks = Default::default();
    let plan = Arc::new(plan);
    run(
        plan.clone(),
        input,
        RunOptions::default().workers(workers),
        Arc::new(capture.clone()),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut outputs = Vec::new();
    for pipeline in &plan.pipelines {
        for kind in KINDS {
            let name = format!("{}{}.jsonl", pipeline.name, kind.suffix());
            outputs.push((name, capture.sorted(&pipeline.name, kind)));
        }
    }
    outputs
}

fn expected_dir(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .to_string();
    path.parent().expect("dir").join("expected").join(stem)
}

#[test]
fn shipped_dataflows_match_their_expected_output() {
    let bless = std::env::var("KVFLOW_BLESS").is_ok_and(|v| v == "1");
    let files = dataflow_files();
    assert!(files.len() >= 4, "at least the four shipped dataflows");
    for path in files {
        let outputs = run_file(&path, 1);
        let dir = expected_dir(&path);
        for (name, lines) in &outputs {
            let file = dir.join(name);
            if bless {
                std::fs::create_dir_all(&dir).expect("mkdir");
                if lines.is_empty() {
                    let _ = std::fs::remove_file(&file);
                } else {
                    std::fs::write(&file, lines.join("\n") + "\n").expect("write expected");
                }
                continue;
            }
            let expected: Vec<String> = std::fs::read_to_string(&file)
                .map(|text| text.lines().map(str::to_string).collect())
                .unwrap_or_default();
            assert_eq!(lines, &expected, "{} differs from {}", name, file.display());
        }
        let four = run_file(&path, 4);
        assert_eq!(
            outputs,
            four,
            "{}: 1 worker and 4 workers differ",
            path.display()
        );
    }
}
