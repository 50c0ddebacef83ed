//! Helpers the sink sections share to point at a value in the file: where a spanned value
//! starts, and name checks that report an error there.

use toml::Spanned;

use super::error::Fail;

/// The offset of a spanned string's first character (after its opening quote).
pub(super) fn inside<T>(value: &Spanned<T>) -> usize {
    value.span().start + 1
}

/// The offset of a spanned key's first character (after its quote, if it is quoted).
pub(super) fn key_start(text: &str, key: &Spanned<String>) -> usize {
    let start = key.span().start;
    start + usize::from(matches!(text.as_bytes().get(start), Some(b'"' | b'\'')))
}

/// Checks a name that becomes part of output file names (see `plan::lower::check_name`).
pub(super) fn file_name(name: &str, at: usize) -> Result<(), Fail> {
    crate::plan::lower::check_name(name).map_err(|message| Fail::at(at, message))
}

/// A name from `names`, or an error at `at` with a "did you mean".
pub(super) fn known_name(
    name: &Spanned<String>,
    names: &[String],
    what: &str,
) -> Result<usize, Fail> {
    names
        .iter()
        .position(|n| n == name.get_ref())
        .ok_or_else(|| {
            let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
            Fail::at(inside(name), format!("no {what} `{}`", name.get_ref()))
                .suggest(crate::expr::suggest(name.get_ref(), &candidates))
        })
}
