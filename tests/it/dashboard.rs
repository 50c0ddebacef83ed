//! The dashboard at `/` during a real run, opened in headless Chromium: the plan graph on the
//! page has one output node per pipeline of the file, and the rows written and events read it
//! shows move between two looks at it. A screenshot is kept for a person to look at.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::metrics::metrics_address;
use crate::support::{kvflow, repo, skipped, tmp};

const CHROMIUM: &str = "/usr/bin/chromium";
const FLOW: &str = "dataflows/window_counts.toml";
/// More than the run reads while the test looks (it is stopped at the end).
const EVENTS: &str = "2000000000";
/// How long Chromium may take to load and dump a page on a loaded machine.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(180);

/// The run, stopped when the test ends (passed or failed).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_dashboard_draws_each_pipeline_and_its_figures_move() {
    if !Path::new(CHROMIUM).exists() {
        skipped(&format!(
            "{CHROMIUM} is missing (Debian's chromium package)"
        ));
        return;
    }
    let loaded = kvflow::dataflow_file::load_file(&repo(FLOW)).expect("the dataflow file");
    let mut pipelines: Vec<String> = loaded
        .plan
        .pipelines
        .iter()
        .map(|p| p.name.clone())
        .collect();
    pipelines.sort();
    let dir = tmp();
    let mut child = kvflow()
        .current_dir(repo("."))
        .args([
            "run",
            FLOW,
            "--generate",
            "keyed-stream",
            "--events",
            EVENTS,
        ])
        .arg("--output")
        .arg(dir.path().join("out"))
        .args(["--metrics", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kvflow");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let _run = Running(child);
    let metrics = metrics_address(&mut stderr);
    let base = metrics.trim_end_matches("/metrics");

    let graph = ureq::get(format!("{base}/plan.json").as_str())
        .call()
        .expect("GET /plan.json")
        .into_body()
        .read_to_string()
        .expect("a body");
    let graph: serde_json::Value = serde_json::from_str(&graph).expect("JSON");
    assert_eq!(outputs_in_plan_json(&graph), pipelines, "/plan.json");

    let page = format!("{base}/");
    let first = dump_dom(dir.path(), &page);
    assert_eq!(
        output_nodes(&first),
        pipelines,
        "one output node per pipeline"
    );
    assert!(first.contains("class=\"node operator\""), "operators drawn");
    let (rows, events) = (rows_out(&first, &pipelines), figure(&first, "events-total"));
    // NB: the run goes on between two looks; poll until the page shows it.
    let start = Instant::now();
    let later = loop {
        let later = dump_dom(dir.path(), &page);
        let moved = rows_out(&later, &pipelines) > rows && figure(&later, "events-total") > events;
        if moved {
            break later;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the figures never moved: rows out {rows}, events {events}"
        );
    };
    // The rates are averages over the last seconds of a run that is reading and writing.
    assert!(
        figure(&later, "events-per-sec") > 0.0 && figure(&later, "rows-per-sec") > 0.0,
        "rates shown"
    );

    // The session windows' state is drawn on their node of the graph.
    let sessions = operator_node(&graph, "sessions");
    let marker = format!("data-metric-of=\"{sessions}\"");
    let state = value_after(&later, &marker);
    assert!(
        state.is_some_and(|s| s > 0.0),
        "the state of {sessions}: {state:?}"
    );

    let shot = screenshot_path();
    chromium(
        dir.path(),
        &[format!("--screenshot={}", shot.display()), page],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG at {}", shot.display());
    // NB: past the test harness's capture, so it shows in every run.
    let line = format!("dashboard screenshot: {}\n", shot.display());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The pipelines of the output nodes of `/plan.json`, sorted.
fn outputs_in_plan_json(graph: &serde_json::Value) -> Vec<String> {
    let nodes = graph["nodes"].as_array().expect("nodes");
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|n| n["kind"] == "output")
        .filter_map(|n| n["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The `data-pipeline` of every node the page drew, sorted.
fn output_nodes(dom: &str) -> Vec<String> {
    let mut names: Vec<String> = dom
        .split("data-pipeline=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The id of `pipeline`'s last operator (the first its graph lists) in `/plan.json`.
fn operator_node(graph: &serde_json::Value, pipeline: &str) -> String {
    let nodes = graph["nodes"].as_array().expect("nodes");
    let node = nodes
        .iter()
        .find(|n| n["kind"] == "operator" && n["pipeline"] == pipeline)
        .unwrap_or_else(|| panic!("no operator of {pipeline} in {graph}"));
    node["id"].as_str().expect("an id").to_string()
}

/// The `data-value` of the element `<tag attribute="...">` that follows `marker`.
fn value_after(dom: &str, marker: &str) -> Option<f64> {
    let rest = &dom[dom.find(marker)? + marker.len()..];
    let tag = &rest[..rest.find('>')?];
    let value = tag.split("data-value=\"").nth(1)?.split('"').next()?;
    value.parse().ok()
}

/// A figure by its element id (fails when the page shows none yet).
fn figure(dom: &str, id: &str) -> f64 {
    value_after(dom, &format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no figure #{id} in the page:\n{dom}"))
}

/// The rows written by every pipeline, as the page shows them.
fn rows_out(dom: &str, pipelines: &[String]) -> f64 {
    pipelines
        .iter()
        .map(|p| {
            value_after(dom, &format!("data-rows-out=\"{p}\""))
                .unwrap_or_else(|| panic!("no rows out of {p} in the page:\n{dom}"))
        })
        .sum()
}

/// Where the screenshot is kept: under the target directory, to look at after the test.
fn screenshot_path() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).expect("the screenshot's directory");
    dir.join("dashboard.png")
}

/// The page's DOM after a few seconds of its own time (a few refreshes).
fn dump_dom(dir: &Path, page: &str) -> String {
    chromium(dir, &["--dump-dom".to_string(), page.to_string()])
}

/// Runs headless Chromium on `args` (with a fresh profile under `dir`) and returns its
/// stdout; fails if it does not finish within [`CHROMIUM_TIMEOUT`].
fn chromium(dir: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir_in(dir).expect("a profile directory");
    let stdout = dir.join("chromium.out");
    let mut child = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--window-size=1280,900", "--virtual-time-budget=6000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdout(std::fs::File::create(&stdout).expect("chromium's stdout"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(&stdout).expect("chromium's output")
}
