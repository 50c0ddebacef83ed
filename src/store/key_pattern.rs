//! A key regex as sources and the store ask it: one question per change, so its cost counts.
//!
//! The patterns users write to pick keys are nearly always an anchored prefix (`^bid_`) or a
//! few of them (`^(person|auction|bid)_`). A general regex search paid about 250–280
//! instructions per key for those in a profile of Nexmark q4 (two sources and the store's
//! append-only keys asked it of every event: a tenth of the worker). Decision: a pattern
//! that is `^`, then either a literal or a group of literal alternatives, then a literal
//! tail, and optionally `$`, is answered by comparing bytes; any other pattern by the regex.
//! Both answer the same for every key (the unit test checks them against each other); the
//! regex is kept for its text and for every other pattern.

use std::fmt;

/// A key regex, matched anywhere in the key (anchor it with `^...$`).
#[derive(Clone)]
pub struct KeyPattern {
    regex: regex::Regex,
    literal: Option<Literal>,
}

/// What a literal pattern matches: keys that start with, or equal, one of `texts`.
#[derive(Clone, Debug)]
struct Literal {
    texts: Vec<Text>,
    whole_key: bool,
}

/// One literal text, and for a text of up to eight bytes the word a key's first eight bytes
/// hold when they start with it, and the mask of its bytes. (A prefix test of a key of eight
/// bytes or more is then one load, a mask and a comparison, where `starts_with` called
/// `memcmp`: Nexmark q0 asks three texts of the store's append-only keys and one of its
/// source per event, and took 840.5 M -> 824.8 M instructions over 200 000 events.)
#[derive(Clone, Debug)]
struct Text {
    text: Box<str>,
    word: Option<(u64, u64)>,
}

impl Text {
    fn new(text: String) -> Text {
        let bytes = text.as_bytes();
        let word = (bytes.len() <= 8).then(|| {
            let mut padded = [0u8; 8];
            padded[..bytes.len()].copy_from_slice(bytes);
            let mask = u64::MAX
                .checked_shr(64 - 8 * bytes.len() as u32)
                .unwrap_or(0);
            (u64::from_le_bytes(padded), mask)
        });
        Text {
            text: text.into_boxed_str(),
            word,
        }
    }

    #[inline]
    fn starts(&self, key: &str) -> bool {
        match (self.word, key.as_bytes().first_chunk::<8>()) {
            (Some((word, mask)), Some(head)) => u64::from_le_bytes(*head) & mask == word,
            _ => key.starts_with(&*self.text),
        }
    }
}

impl KeyPattern {
    pub fn new(pattern: &str) -> Result<KeyPattern, regex::Error> {
        Ok(KeyPattern {
            regex: regex::Regex::new(pattern)?,
            literal: Literal::of(pattern),
        })
    }

    pub fn is_match(&self, key: &str) -> bool {
        match &self.literal {
            Some(literal) => literal.matches(key),
            None => self.regex.is_match(key),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl fmt::Debug for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyPattern").field(&self.as_str()).finish()
    }
}

impl Literal {
    /// The literal form of `pattern`, when it has one.
    fn of(pattern: &str) -> Option<Literal> {
        let rest = pattern.strip_prefix('^')?;
        let (rest, whole_key) = match rest.strip_suffix('$') {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let (alternatives, tail) = match rest.strip_prefix('(') {
            Some(group) => {
                let group = group.strip_prefix("?:").unwrap_or(group);
                let (inside, tail) = group.split_once(')')?;
                (inside.split('|').collect::<Vec<_>>(), tail)
            }
            None => (vec![""], rest),
        };
        if !alternatives
            .iter()
            .chain([&tail])
            .all(|part| is_plain(part))
        {
            return None;
        }
        let texts = alternatives
            .iter()
            .map(|alternative| Text::new(format!("{alternative}{tail}")))
            .collect();
        Some(Literal { texts, whole_key })
    }

    fn matches(&self, key: &str) -> bool {
        self.texts.iter().any(|text| match self.whole_key {
            true => key == &*text.text,
            false => text.starts(key),
        })
    }
}

/// Whether `part` matches only itself: no character a regex reads as syntax.
fn is_plain(part: &str) -> bool {
    part.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '/' | '@' | '=' | ',' | ';'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const PATTERNS: &[&str] = &[
        "^bid_",
        "^(person|auction|bid)_",
        "^(?:a|ab|)b",
        "^user_1$",
        "^(x|y)$",
        "^",
        "bid_",
        "^bid.",
        "^(a|b",
        "^a)b",
        "^(a|b)(c|d)",
        "^a+",
        "^A_",
        "^(?i)a_",
        "^a|b",
        "^a$b",
    ];

    fn random_key(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "a", "b", "ab", "_", "bid", "bid_", "person_", "auction", "user_1", "x", "y", "A", "c",
            "d", ".", ")", "(", "|", "$",
        ];
        let pieces = rng.below(5);
        (0..pieces).map(|_| *rng.pick(PIECES)).collect()
    }

    #[test]
    fn literal_patterns_match_as_their_regex_does() {
        let mut rng = Rng::new(11, 0);
        for pattern in PATTERNS {
            let Ok(key_pattern) = KeyPattern::new(pattern) else {
                continue;
            };
            let regex = regex::Regex::new(pattern).unwrap();
            for _ in 0..3000 {
                let key = random_key(&mut rng);
                assert_eq!(
                    key_pattern.is_match(&key),
                    regex.is_match(&key),
                    "{pattern} on {key:?}"
                );
            }
        }
    }

    #[test]
    fn prefixes_and_alternatives_take_the_literal_form() {
        let literal = |p: &str| KeyPattern::new(p).unwrap().literal.is_some();
        assert!(literal("^bid_") && literal("^(person|auction|bid)_") && literal("^user_1$"));
        assert!(!literal("bid_") && !literal("^bid.") && !literal("^a|b") && !literal("^a+"));
        assert!(!literal("^(a|b)(c|d)") && !literal("^(?i)a_"));
    }
}
