//! `kvflow check` and `kvflow explain`.

use std::path::Path;

use kvflow::plan::explain::{explain_mermaid, explain_text};

use super::CliError;

pub fn check(file: &Path) -> Result<(), CliError> {
    let loaded = kvflow::dataflow_file::load_file(file)?;
    let plan = &loaded.plan;
    let mut parts = vec![
        format!("{} sources", plan.sources.len()),
        format!("{} pipelines", plan.pipelines.len()),
    ];
    let sinks = &plan.sinks;
    if !sinks.sync.is_empty() {
        parts.push(format!("{} sync sinks", sinks.sync.len()));
    }
    if !sinks.alerts.is_empty() {
        parts.push(format!("{} alerts", sinks.alerts.len()));
    }
    if let Some(routes) = &sinks.routes {
        parts.push(format!("{} routes", routes.routes().len()));
    }
    println!("{}: ok ({})", file.display(), parts.join(", "));
    Ok(())
}

pub fn explain(file: &Path, mermaid: bool) -> Result<(), CliError> {
    let loaded = kvflow::dataflow_file::load_file(file)?;
    if mermaid {
        print!("{}", explain_mermaid(&loaded.plan));
    } else {
        print!("{}", explain_text(&loaded.plan));
    }
    Ok(())
}
