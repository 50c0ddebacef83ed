//! A JSON object's field name, kept inline when short.
//!
//! Field names are short (`auction`, `user_id`, `region`) and every object parsed, generated
//! or decoded from the store has a few: as `String`s each was an allocation to make and to
//! free, and finding a field by name read each candidate's bytes through a pointer. A name of
//! up to 22 bytes (`INLINE`) lives in the name itself, beside its value in the object's array;
//! a longer one is boxed.
//!
//! It orders, hashes, prints and serializes as the `str` it holds, so a map of them is the
//! map of strings it replaces.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest name kept inline.
const INLINE: usize = 22;

/// A field name (see the module doc).
#[derive(Clone)]
pub struct FieldName(Repr);

#[derive(Clone)]
enum Repr {
    /// The first `len` bytes of the array, valid UTF-8.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Boxed(Box<str>),
}

impl FieldName {
    /// The name's bytes: UTF-8, read without a pointer when inline.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Boxed(name) => name.as_bytes(),
        }
    }

    /// Whether `self` and `other` are the same name. Two inline names are compared as their
    /// lengths and whole arrays, a few words, with no loop and no call: the bytes after a
    /// name's length are always zero (see `From<&str>`), so equal arrays mean equal names.
    #[inline]
    pub fn same(&self, other: &FieldName) -> bool {
        match (&self.0, &other.0) {
            (
                Repr::Inline { len, bytes },
                Repr::Inline {
                    len: len_b,
                    bytes: bytes_b,
                },
            ) => len == len_b && bytes == bytes_b,
            _ => self.as_bytes() == other.as_bytes(),
        }
    }

    /// The name as text. An inline name's bytes were copied from a `&str` whole, so the
    /// check always passes; it costs a scan of a few bytes, paid where text is written.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Boxed(name) => name,
        }
    }
}

impl From<&str> for FieldName {
    fn from(name: &str) -> FieldName {
        if name.len() > INLINE {
            return FieldName(Repr::Boxed(name.into()));
        }
        let mut bytes = [0; INLINE];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        FieldName(Repr::Inline {
            len: name.len() as u8,
            bytes,
        })
    }
}

impl From<String> for FieldName {
    fn from(name: String) -> FieldName {
        match name.len() > INLINE {
            true => FieldName(Repr::Boxed(name.into_boxed_str())),
            false => FieldName::from(name.as_str()),
        }
    }
}

impl From<&String> for FieldName {
    fn from(name: &String) -> FieldName {
        FieldName::from(name.as_str())
    }
}

impl PartialEq for FieldName {
    fn eq(&self, other: &FieldName) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for FieldName {}

impl PartialOrd for FieldName {
    fn partial_cmp(&self, other: &FieldName) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FieldName {
    fn cmp(&self, other: &FieldName) -> Ordering {
        // NB: `str` orders by its bytes.
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for FieldName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // NB: what `str::hash` writes (`Hasher::write_str`'s default), so a name hashes as
        // the `String` it replaces.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FieldName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldName, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Takes a name as text without owning it first, so an inline name allocates nothing.
struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = FieldName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<FieldName, E> {
        Ok(FieldName::from(name))
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<FieldName, E> {
        Ok(FieldName::from(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stable_hash;

    #[test]
    fn a_name_is_the_string_it_holds_inline_or_boxed() {
        let names: Vec<String> = ["", "a", "é", "user_id", "a\"quote", "中文字段"]
            .into_iter()
            .map(String::from)
            .chain((20..26).map(|n| "x".repeat(n)))
            .chain((6..9).map(|n| "é".repeat(n)))
            .collect();
        for a in &names {
            let name = FieldName::from(a.as_str());
            assert_eq!(name.as_str(), a);
            assert_eq!(name.as_bytes(), a.as_bytes());
            assert_eq!(FieldName::from(a.clone()).as_str(), a);
            assert_eq!(stable_hash(&name), stable_hash(a));
            assert_eq!(format!("{name:?}"), format!("{a:?}"));
            let json = serde_json::to_string(&name).expect("serialize");
            assert_eq!(json, serde_json::to_string(a).expect("serialize"));
            let back: FieldName = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, name);
            for b in &names {
                assert_eq!(name.cmp(&FieldName::from(b.as_str())), a.cmp(b), "{a} {b}");
            }
        }
        assert_eq!(std::mem::size_of::<FieldName>(), 24);
    }
}
