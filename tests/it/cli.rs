//! The `kvflow` binary end to end: worker counts and a real 2-process cluster give the same
//! sorted output; broken files and bad input give clear errors and exit codes.

use crate::support::{assert_success, free_port, kvflow, repo, sorted_outputs, tmp};

#[test]
fn workers_and_a_two_process_cluster_give_identical_output() {
    let results = runs_on_workers_and_a_cluster("dataflows/window_counts.toml", &[]);
    assert!(
        results[0]
            .iter()
            .any(|(name, lines)| name == "tumbling" && !lines.is_empty())
    );
}

/// Append-only keys are applied by whichever worker built their chunk of the input (see
/// `runtime::feed::chunk`): a stream of several chunks gives the same rows on any number
/// of workers and processes, tables over those keys and a join of them included.
#[test]
fn append_only_keys_give_identical_output_on_workers_and_a_cluster() {
    let events = ["--events", "30000"];
    for file in ["dataflows/nexmark/q3.sql", "dataflows/nexmark/q5.sql"] {
        let results = runs_on_workers_and_a_cluster(file, &events);
        assert!(
            results[0].iter().any(|(_, lines)| lines.len() > 10),
            "{file} wrote rows"
        );
    }
}

type Outputs = std::collections::BTreeMap<String, Vec<String>>;

/// The sorted outputs of `file` run with 1 worker, 4 workers and a 2-process cluster of 2
/// workers each (in that order), after checking that all three are the same.
fn runs_on_workers_and_a_cluster(file: &str, args: &[&str]) -> Vec<Outputs> {
    let file = repo(file);
    let mut results = Vec::new();
    for workers in ["1", "4"] {
        let dir = tmp();
        let output = kvflow()
            .args(["run", file.to_str().expect("path"), "-w", workers])
            .args(args)
            .arg("--output")
            .arg(dir.path())
            .output()
            .expect("run kvflow");
        assert_success(&output);
        results.push(sorted_outputs(dir.path()));
    }
    let dir = tmp();
    let hosts = dir.path().join("hosts.txt");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .expect("hostfile");
    let out = dir.path().join("out");
    let children: Vec<_> = (0..2)
        .map(|p| {
            kvflow()
                .args(["run", file.to_str().expect("path"), "-w", "2", "-n", "2"])
                .args(["-p", &p.to_string(), "--hostfile"])
                .arg(&hosts)
                .args(args)
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
    results.push(sorted_outputs(&out));
    let name = file.display();
    assert!(results[0] == results[1], "{name}: 1 worker vs 4 workers");
    assert!(
        results[0] == results[2],
        "{name}: 1 worker vs a 2-process cluster"
    );
    results
}

#[test]
fn check_rejects_a_broken_file_with_line_and_column() {
    let dir = tmp();
    let file = dir.path().join("broken.toml");
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
    let dir = tmp();
    let input = dir.path().join("in.jsonl");
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

    let out = dir.path().join("out");
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
