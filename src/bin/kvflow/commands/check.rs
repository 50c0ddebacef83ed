//! `kvflow check` and `kvflow explain`.

use std::path::Path;

use kvflow::plan::explain::{explain_mermaid, explain_text};

use super::CliError;

pub fn check(file: &Path) -> Result<(), CliError> {
    let loaded = kvflow::dataflow_file::load_file(file)?;
    println!(
        "{}: ok ({} sources, {} pipelines)",
        file.display(),
        loaded.plan.sources.len(),
        loaded.plan.pipelines.len()
    );
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
