//! Expressions passed on with pieces of their text replaced — a join key's qualifier cut out
//! (`orders.value.id` -> `value.id`), an aggregate call in HAVING replaced by its column
//! (`count(*) > 1` -> `"n" > 1`) — and the map back from an offset in the new text to the
//! file, so an error inside such an expression still points at the file's own text.

use super::cursor::Captured;
use crate::plan::lower::Text;

/// One replacement: at `at` in the new text, `new_len` bytes stand for `old_len` of the
/// file's.
#[derive(Clone, Debug)]
struct Edit {
    at: usize,
    new_len: usize,
    old_len: usize,
}

/// An expression at `origin` (the file offset of its first byte), `len` bytes long after
/// its edits.
#[derive(Clone, Debug)]
pub(super) struct Remap {
    origin: usize,
    len: usize,
    edits: Vec<Edit>,
}

impl Remap {
    /// The file offset of `offset`, when it falls in this expression's new text.
    pub fn file_offset(&self, offset: usize) -> Option<usize> {
        if offset < self.origin || offset > self.origin + self.len {
            return None;
        }
        let p = offset - self.origin;
        let mut shift = 0isize;
        for e in &self.edits {
            if p >= e.at + e.new_len {
                shift += e.old_len as isize - e.new_len as isize;
            } else if p >= e.at {
                // Inside a replacement: its start in the file.
                return Some((self.origin + e.at).saturating_add_signed(shift));
            }
        }
        Some(offset.saturating_add_signed(shift))
    }
}

/// `c`'s text with `replacements` (file byte ranges inside it, in order, and their new
/// text); `remaps` learns the edits.
pub(super) fn rewrite(
    c: &Captured,
    replacements: &[(usize, usize, String)],
    remaps: &mut Vec<Remap>,
) -> Text {
    let text = &c.text.text;
    let mut out = String::with_capacity(text.len());
    let mut edits = Vec::new();
    let mut pos = 0;
    for (start, end, new) in replacements {
        let (start, end) = (start.saturating_sub(c.at), end.saturating_sub(c.at));
        let Some(kept) = text.get(pos..start).filter(|_| end <= text.len()) else {
            continue;
        };
        out.push_str(kept);
        edits.push(Edit {
            at: out.len(),
            new_len: new.len(),
            old_len: end.saturating_sub(start),
        });
        out.push_str(new);
        pos = end;
    }
    out.push_str(text.get(pos..).unwrap_or_default());
    remaps.push(Remap {
        origin: c.at,
        len: out.len(),
        edits,
    });
    Text::at(out, Some(c.at))
}

/// `c`'s text without the qualifier `name.` wherever it appears.
pub(super) fn strip(c: &Captured, name: &str, remaps: &mut Vec<Remap>) -> Text {
    let cuts: Vec<(usize, usize, String)> = c
        .qualifiers
        .iter()
        .filter(|q| q.name == name)
        .map(|q| (q.start, q.end, String::new()))
        .collect();
    rewrite(c, &cuts, remaps)
}
