//! LIKE and ILIKE patterns: compiled once into tokens, matched with backtracking to the
//! last `%` only.

/// One element of a LIKE pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LikeTok {
    Char(char),
    /// `_`: any one character.
    One,
    /// `%`: any run of characters.
    Any,
}

/// A compiled LIKE / ILIKE pattern.
#[derive(Clone, Debug)]
pub(crate) struct LikePattern {
    toks: Vec<LikeTok>,
    case_insensitive: bool,
}

impl LikePattern {
    /// Compiles `pattern`; `escape` makes the next character literal (default `\`).
    pub(crate) fn new(
        pattern: &str,
        escape: Option<char>,
        case_insensitive: bool,
    ) -> Result<LikePattern, String> {
        let escape = escape.unwrap_or('\\');
        let mut toks = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            toks.push(if c == escape {
                match chars.next() {
                    Some(n) => LikeTok::Char(fold(n, case_insensitive)),
                    None => {
                        return Err("LIKE pattern must not end with the escape character".into());
                    }
                }
            } else if c == '%' {
                if toks.last() == Some(&LikeTok::Any) {
                    continue;
                }
                LikeTok::Any
            } else if c == '_' {
                LikeTok::One
            } else {
                LikeTok::Char(fold(c, case_insensitive))
            });
        }
        Ok(LikePattern {
            toks,
            case_insensitive,
        })
    }

    /// True if the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if self.case_insensitive {
            like_match(&self.toks, &text.to_lowercase())
        } else {
            like_match(&self.toks, text)
        }
    }
}

fn fold(c: char, case_insensitive: bool) -> char {
    if case_insensitive {
        // Single-char lowercase; multi-char foldings keep their first char.
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

/// Wildcard matching with backtracking to the last `%` only: O(len(text) * len(pattern)).
fn like_match(toks: &[LikeTok], text: &str) -> bool {
    let next = |at: usize| text.get(at..).and_then(|s| s.chars().next());
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match toks.get(p) {
            Some(LikeTok::Any) => {
                star = Some((p + 1, s));
                p += 1;
                continue;
            }
            Some(LikeTok::One) => next(s).map(|c| s + c.len_utf8()),
            Some(LikeTok::Char(want)) => next(s).filter(|c| c == want).map(|c| s + c.len_utf8()),
            None if s == text.len() => return true,
            None => None,
        };
        match advanced {
            Some(ns) => {
                s = ns;
                p += 1;
            }
            None => {
                let Some((sp, ss)) = star else {
                    return false;
                };
                let Some(c) = next(ss) else {
                    return false;
                };
                let ss = ss + c.len_utf8();
                star = Some((sp, ss));
                p = sp;
                s = ss;
            }
        }
    }
}
