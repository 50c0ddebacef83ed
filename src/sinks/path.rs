//! The one place where an output file's path is built from a name.
//!
//! Pipeline, alert, sync and route handler names become file names in `--output`
//! (`<name>.jsonl`, `<alert>.alerts.jsonl`, `<sink>.dead-letter.jsonl`, ...). `kvflow check`
//! refuses a name that is not letters, digits, `_` and `-` (see `plan::lower::check_name`),
//! but names also come from the Rust API, so the path itself is guarded here as well.
//!
//! Decision: a file name is accepted only when it is exactly one ordinary path component —
//! not empty, not `.` or `..`, no `/`, `\` or NUL — so `dir.join(name)` can never leave
//! `dir`, whatever platform or name. Everything else is refused with an error naming the
//! name, never cleaned up silently into another file.

use std::path::{Component, Path, PathBuf};

/// `dir/file_name`, or an error when `file_name` is not a single plain file name.
pub fn output_path(dir: &Path, file_name: &str) -> Result<PathBuf, String> {
    let refused = |why: &str| {
        Err(format!(
            "refused output file name `{file_name}` in {}: {why}",
            dir.display()
        ))
    };
    if file_name.contains(['/', '\\', '\0']) {
        return refused("a name must not contain `/`, `\\` or NUL");
    }
    let mut components = Path::new(file_name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) if name == file_name => Ok(dir.join(name)),
        _ => refused("it must be a plain file name, not empty, `.` or `..`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_in_the_directory() {
        let dir = Path::new("/out");
        for name in [
            "a.jsonl",
            "x.alerts.jsonl",
            "..x.jsonl",
            "a..b",
            "-x",
            "é.jsonl",
        ] {
            let path = output_path(dir, name).unwrap();
            assert_eq!(path.parent(), Some(dir), "{name}");
            assert_eq!(path.file_name().unwrap(), name);
        }
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        let dir = Path::new("/out");
        for name in [
            "",
            ".",
            "..",
            "../x",
            "../../x.alerts.jsonl",
            "/tmp/x",
            "a/b",
            "a\\b",
            "x\0y",
            "./x",
        ] {
            let error = output_path(dir, name).unwrap_err();
            assert!(
                error.contains("refused output file name"),
                "{name}: {error}"
            );
        }
    }
}
