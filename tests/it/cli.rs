//! The `kvflow` binary end to end: worker counts and a real 2-process cluster give the same
//! sorted output; broken files and bad input give clear errors and exit codes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kvflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvflow"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kvflow-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every output file's lines, by pipeline output name (parts of a cluster merged), sorted.
fn read_outputs(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let name = match file.find(".part-") {
            Some(at) => file[..at].to_string(),
            None => file.trim_end_matches(".jsonl").to_string(),
        };
        let text = std::fs::read_to_string(&path).expect("read output");
        by_name
            .entry(name)
            .or_default()
            .extend(text.lines().map(str::to_string));
    }
    by_name
        .into_iter()
        .map(|(name, mut lines)| {
            lines.sort();
            (name, lines)
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn workers_and_a_two_process_cluster_give_identical_output() {
    let file = repo("dataflows/window_counts.toml");
    let mut results = Vec::new();
    for workers in ["1", "4"] {
        let dir = scratch(&format!("w{workers}"));
        let output = kvflow()
            .args([
                "run",
                file.to_str().expect("path"),
                "-w",
                workers,
                "--output",
            ])
            .arg(&dir)
            .output()
            .expect("run kvflow");
        assert_success(&output);
        results.push(read_outputs(&dir));
    }
    let dir = scratch("cluster");
    let hosts = dir.join("hosts.txt");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .expect("hostfile");
    let out = dir.join("out");
    let children: Vec<_> = (0..2)
        .map(|p| {
            kvflow()
                .args([
                    "run",
                    file.to_str().expect("path"),
                    "-w",
                    "2",
                    "-n",
                    "2",
                    "-p",
                    &p.to_string(),
                    "-h",
                ])
                .arg(&hosts)
                .arg("--output")
                .arg(&out)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn cluster process")
        })
        .collect();
    for child in children {
        assert_success(&child.wait_with_output().expect("cluster process"));
    }
    results.push(read_outputs(&out));
    assert!(
        results[0]
            .iter()
            .any(|(name, lines)| name == "tumbling" && !lines.is_empty())
    );
    assert_eq!(results[0], results[1], "1 worker vs 4 workers");
    assert_eq!(results[0], results[2], "1 worker vs a 2-process cluster");
}

#[test]
fn check_rejects_a_broken_file_with_line_and_column() {
    let dir = scratch("broken");
    let file = dir.join("broken.toml");
    std::fs::write(
        &file,
        "[sources.events]\nview = \"events\"\n\n[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n\n[[pipelines.steps]]\nfilter = \"vlaue.amount > 1\"\n",
    )
    .expect("write");
    let output = kvflow().arg("check").arg(&file).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.toml:9:"), "{stderr}");
    assert!(stderr.contains("value"), "did you mean: {stderr}");
}

#[test]
fn a_bad_input_line_names_its_file_and_line() {
    let dir = scratch("badline");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "{\"ts\":1,\"op\":\"put\",\"key\":\"a_1\",\"value\":1}\n{\"ts\":2,\"op\":\"pt\",\"key\":\"a_2\"}\n")
        .expect("write");
    let file = repo("dataflows/live_table.toml");
    let output = kvflow()
        .args(["run", file.to_str().expect("path"), "--input"])
        .arg(&input)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in.jsonl:2"), "{stderr}");

    let out = dir.join("out");
    let output = kvflow()
        .args([
            "run",
            file.to_str().expect("path"),
            "--on-bad-input",
            "skip",
            "--input",
        ])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .output()
        .expect("run");
    assert_success(&output);
    let bad = std::fs::read_to_string(out.join("bad-input.jsonl")).expect("bad-input.jsonl");
    assert!(bad.starts_with("{\"line\":2,"), "{bad}");
    let live = std::fs::read_to_string(out.join("live.final.jsonl")).expect("final state");
    assert_eq!(live, "{\"prefix\":\"a\",\"live_keys\":1,\"total\":1}\n");
}

#[test]
fn generate_is_deterministic() {
    let run = || {
        let output = kvflow()
            .args(["generate", "users-orders", "--events", "500", "--seed", "9"])
            .output()
            .expect("run");
        assert_success(&output);
        output.stdout
    };
    let first = run();
    assert_eq!(first, run());
    assert_eq!(first.iter().filter(|b| **b == b'\n').count(), 500);
}
