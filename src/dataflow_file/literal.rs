//! Positions inside TOML string literals: where a literal's text starts in the file, and, for
//! basic strings with escapes, which file offset a byte of the decoded text came from.
//!
//! Every string's text is addressed as `content start + offset in the decoded text`. For a
//! literal without escapes that is already the file offset; strings with escapes are recorded
//! as [`Escaped`] and their offsets are mapped back when an error is reported. A decoded text
//! is never longer than its source, so these ranges never overlap other strings' or keys'.

use std::ops::Range;

/// A basic string whose decoded text differs from its source text.
#[derive(Clone, Debug)]
pub(super) struct Escaped {
    content: usize,
    raw_end: usize,
    decoded_len: usize,
}

impl Escaped {
    /// The file offset of decoded offset `offset - content`, if `offset` falls in this string.
    pub fn to_file(&self, text: &str, offset: usize) -> Option<usize> {
        if offset < self.content || offset > self.content + self.decoded_len {
            return None;
        }
        let raw = text.get(self.content..self.raw_end)?;
        Some(self.content + raw_index(raw, offset - self.content))
    }
}

/// The byte range of the text of the string literal `text[span]` (inside its quotes, after the
/// newline that may follow `"""`), and an [`Escaped`] if `decoded` differs from it.
pub(super) fn content(text: &str, span: Range<usize>, decoded: &str) -> (usize, Option<Escaped>) {
    let raw = text.get(span.clone()).unwrap_or("");
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| raw.len() >= 2 * q.len() && raw.starts_with(q) && raw.ends_with(q))
        .unwrap_or("");
    let mut start = span.start + quote.len();
    if quote.len() == 3 {
        let rest = &raw[3..];
        start += if rest.starts_with("\r\n") {
            2
        } else {
            usize::from(rest.starts_with('\n'))
        };
    }
    let end = span.end.saturating_sub(quote.len()).max(start);
    let same = text.get(start..end) == Some(decoded);
    let escaped = (!same && quote.starts_with('"')).then_some(Escaped {
        content: start,
        raw_end: end,
        decoded_len: decoded.len(),
    });
    (start, escaped)
}

/// The byte index in the source text `raw` of a basic string of byte `target` of its decoded
/// text (approximate after a malformed escape).
fn raw_index(raw: &str, target: usize) -> usize {
    let mut decoded = 0;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if decoded >= target {
            return i;
        }
        if c != '\\' {
            decoded += c.len_utf8();
            continue;
        }
        match chars.next() {
            Some((_, h @ ('x' | 'u' | 'U'))) => {
                let n = match h {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut code = 0u32;
                for _ in 0..n {
                    if let Some((_, d)) = chars.next_if(|(_, d)| d.is_ascii_hexdigit()) {
                        code = code
                            .saturating_mul(16)
                            .saturating_add(d.to_digit(16).unwrap_or(0));
                    }
                }
                decoded += char::from_u32(code).map_or(1, char::len_utf8);
            }
            // A line-ending backslash: the whitespace and newlines after it vanish.
            Some((_, ' ' | '\t' | '\r' | '\n')) => {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            }
            Some(_) => decoded += 1,
            None => {}
        }
    }
    raw.len()
}
