//! [`DataflowFileError`] (`file:line:column: message`, the source line and a caret), the internal
//! byte-offset form [`Fail`] every check reports, and [`offset_to_line_col`].

use std::fmt;

use super::literal::Escaped;

/// A problem in a dataflow file, located by 1-based line and column (in chars).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataflowFileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// A name the user probably meant (shown as ``(did you mean `x`?)``).
    pub suggestion: Option<String>,
    /// The offending source line, without its line break; empty when there is none to show.
    pub source_line: String,
}

impl std::error::Error for DataflowFileError {}

impl fmt::Display for DataflowFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        if !self.source_line.is_empty() {
            // Keep tabs so the caret lines up however the terminal renders them.
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{}\n{pad}^", self.source_line)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in chars) of byte `offset` in `text`. Never panics: an offset past
/// the end means the end, and one inside a multibyte char means that char.
pub fn offset_to_line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_boundary(text, offset)];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A problem at a byte offset of the file (before it becomes a [`DataflowFileError`]).
#[derive(Clone, Debug)]
pub(super) struct Fail {
    pub offset: usize,
    pub message: String,
    pub suggestion: Option<String>,
}

impl Fail {
    pub fn at(offset: usize, message: impl Into<String>) -> Fail {
        Fail {
            offset,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn suggest(mut self, suggestion: Option<String>) -> Fail {
        self.suggestion = suggestion;
        self
    }

    /// Locates the problem in `text`, mapping offsets inside strings with escapes back to
    /// the file.
    pub fn into_error(self, text: &str, file: &str, escaped: &[Escaped]) -> DataflowFileError {
        let offset = escaped
            .iter()
            .find_map(|e| e.to_file(text, self.offset))
            .unwrap_or(self.offset);
        let (line, column) = offset_to_line_col(text, offset);
        let source_line = text
            .split('\n')
            .nth(line - 1)
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        let (mut message, mut suggestion) = (self.message, None);
        // Expression errors phrase their hints; keep a bare name as the suggestion.
        if let Some(s) = self.suggestion {
            match s
                .strip_prefix("did you mean `")
                .and_then(|r| r.strip_suffix("`?"))
            {
                Some(name) => suggestion = Some(name.to_string()),
                None if !s.contains(char::is_whitespace) => suggestion = Some(s),
                None => message = format!("{message} ({s})"),
            }
        }
        DataflowFileError {
            file: file.to_string(),
            line,
            column,
            message,
            suggestion,
            source_line,
        }
    }
}
