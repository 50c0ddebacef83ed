//! The crate's modules import one way (the layering in `src/lib.rs`'s doc): each top-level
//! module refers only to modules of earlier layers. Read from the source text, so a new
//! import that points back up fails here, naming the file and the module it reaches.

use std::path::Path;

/// The layers, earliest first; a module may refer to modules of earlier layers only.
const LAYERS: &[&[&str]] = &[
    &["allocator", "value", "schema", "rng"],
    &["change"],
    &["workload", "source"],
    &["store"],
    &["expr"],
    &["plan"],
    &["sql"],
    &["dataflow_file", "builder"],
    &["operators"],
    &["render"],
    &["sinks"],
    &["assemble"],
    &["runtime"],
    &["server", "bench"],
    &["exporter"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The file's code before its tests, without comments.
fn code_of(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::<module>` the file's code names.
fn referenced_modules(code: &str) -> Vec<String> {
    let pattern = regex::Regex::new(r"crate::([a-z_]+)").expect("pattern");
    pattern
        .captures_iter(code)
        .map(|c| c[1].to_string())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_import_only_from_earlier_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative.components().next().expect("a component");
        let module = top
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "bin" || module == "lib" {
            continue;
        }
        let own = layer_of(&module)
            .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to LAYERS"));
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        for target in referenced_modules(&code) {
            let allowed = target == module || layer_of(&target).is_some_and(|l| l < own);
            if !allowed {
                violations.push(format!("{}: {module} -> {target}", relative.display()));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports against the layering:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_layer_check_sees_a_backward_import() {
    let code = code_of("use crate::runtime::DurableRun; // crate::server in a comment\n");
    assert_eq!(referenced_modules(&code), ["runtime"]);
    assert!(layer_of("runtime") > layer_of("sinks"));
}
