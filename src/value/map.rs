//! A JSON object's fields as one sorted array: what `Value::Map` shares.
//!
//! Objects in events are small (a Nexmark bid has six fields, a `users-orders` row three or
//! four), and a pipeline reads them by name for every event. A `BTreeMap` keeps them in a node
//! walked by a generic iterator and built by sorting then bulk-loading; a profile of the table
//! join put 11% of its worker in looking fields up that way. Here the fields sit in one array
//! sorted by name: a small object is scanned, lengths compared first, and a large one is
//! binary-searched.
//!
//! Order, equality, hashing and serde are those of the `BTreeMap` it replaces (entries in
//! name order, compared pairwise; a length then each pair hashed; a serde map), so sinks,
//! arrangements, routing by hash and the cluster's wire format see the same values as before.
//! A repeated name keeps its last value, as inserting into a map would.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FieldName, Value};

/// Objects with at most this many fields are scanned rather than binary-searched.
const SCANNED_FIELDS: usize = 16;

/// A JSON object: fields sorted by name, each name once.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueMap {
    fields: Vec<(FieldName, Value)>,
}

impl ValueMap {
    /// The object of `fields` in any order; a repeated name keeps its last value.
    pub fn from_fields(mut fields: Vec<(FieldName, Value)>) -> ValueMap {
        if !strictly_sorted(&fields) {
            // NB: a stable sort keeps a repeated name's values in input order, so the
            // dedup below can keep the last one.
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            keep_last_of_each_name(&mut fields);
        }
        ValueMap { fields }
    }

    /// The value of field `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        if self.fields.len() > SCANNED_FIELDS {
            let at = self
                .fields
                .binary_search_by(|(field, _)| field.as_bytes().cmp(name.as_bytes()))
                .ok()?;
            return Some(&self.fields[at].1);
        }
        let name = name.as_bytes();
        self.fields
            .iter()
            .find(|(field, _)| same_bytes(field.as_bytes(), name))
            .map(|(_, value)| value)
    }

    /// The value of field `name`, [`Self::get`] for a name made once and looked up often (a
    /// path in an expression): first at `last_at`, where the name was found the last time,
    /// then by a scan whose names are compared a few words at a time, and `last_at` is set
    /// to where it was found. The hint decides only how fast the answer comes.
    #[inline]
    pub fn get_at(&self, name: &FieldName, last_at: &AtomicU8) -> Option<&Value> {
        let hint = usize::from(last_at.load(Ordering::Relaxed));
        if let Some((field, value)) = self.fields.get(hint)
            && field.same(name)
        {
            return Some(value);
        }
        let at = match self.fields.len() > SCANNED_FIELDS {
            true => self
                .fields
                .binary_search_by(|(field, _)| field.as_bytes().cmp(name.as_bytes()))
                .ok()?,
            false => self.fields.iter().position(|(field, _)| field.same(name))?,
        };
        if let Ok(at) = u8::try_from(at) {
            last_at.store(at, Ordering::Relaxed);
        }
        Some(&self.fields[at].1)
    }

    /// The fields in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&FieldName, &Value)> {
        self.fields.iter().map(|(name, value)| (name, value))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn strictly_sorted(fields: &[(FieldName, Value)]) -> bool {
    fields.windows(2).all(|pair| pair[0].0 < pair[1].0)
}

/// Of each run of one name (sorted, in input order), keeps the last entry.
fn keep_last_of_each_name(fields: &mut Vec<(FieldName, Value)>) {
    fields.reverse();
    fields.dedup_by(|later, earlier| later.0 == earlier.0);
    fields.reverse();
}

/// Whether `a` and `b` are equal, comparing words rather than calling out for short ones.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let half =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

impl From<BTreeMap<String, Value>> for ValueMap {
    fn from(map: BTreeMap<String, Value>) -> ValueMap {
        ValueMap {
            fields: map
                .into_iter()
                .map(|(name, value)| (FieldName::from(name), value))
                .collect(),
        }
    }
}

impl IntoIterator for ValueMap {
    type Item = (FieldName, Value);
    type IntoIter = std::vec::IntoIter<(FieldName, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

impl<N: Into<FieldName>> FromIterator<(N, Value)> for ValueMap {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(fields: I) -> ValueMap {
        let fields = fields.into_iter();
        ValueMap::from_fields(fields.map(|(name, value)| (name.into(), value)).collect())
    }
}

impl fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for ValueMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for ValueMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ValueMap, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = ValueMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ValueMap, A::Error> {
        let mut fields = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(field) = access.next_entry::<FieldName, Value>()? {
            fields.push(field);
        }
        Ok(ValueMap::from_fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::store::stable_hash;

    fn random_fields(rng: &mut Rng, n: u64) -> Vec<(String, Value)> {
        (0..n)
            .map(|i| {
                let name = format!("f{}", rng.below(n + 3));
                (name, Value::Int(i as i64))
            })
            .collect()
    }

    fn map_of(fields: &[(String, Value)]) -> ValueMap {
        fields.iter().cloned().collect()
    }

    fn as_btree(fields: &[(String, Value)]) -> BTreeMap<String, Value> {
        fields.iter().cloned().collect()
    }

    #[test]
    fn fields_in_any_order_make_the_map_inserting_them_would() {
        let mut rng = Rng::new(11, 0);
        for n in [0, 1, 2, 5, 16, 17, 40] {
            for _ in 0..50 {
                let fields = random_fields(&mut rng, n);
                let map = map_of(&fields);
                let btree = as_btree(&fields);
                assert_eq!(map, ValueMap::from(btree.clone()));
                let names = |m: &ValueMap| {
                    m.iter()
                        .map(|(k, _)| k.as_str().to_string())
                        .collect::<Vec<_>>()
                };
                assert_eq!(names(&map), btree.keys().cloned().collect::<Vec<_>>());
                for name in (0..n + 3).map(|i| format!("f{i}")) {
                    assert_eq!(map.get(&name), btree.get(&name), "{name} of {fields:?}");
                }
            }
        }
    }

    #[test]
    fn a_field_looked_up_by_its_made_name_is_the_one_looked_up_by_text() {
        // NB: lengths around each word the inline comparison reads, inline and boxed, names
        // that differ only in their last byte, and objects scanned and binary-searched.
        let names: Vec<String> = (0..=30)
            .flat_map(|len| {
                let stem = "x".repeat(len);
                [
                    stem.clone(),
                    format!("{stem}a"),
                    format!("a{stem}"),
                    format!("{stem}b"),
                ]
            })
            .collect();
        let mut rng = Rng::new(17, 0);
        for size in [0, 1, 3, 16, 17, 60] {
            let fields: Vec<(String, Value)> = (0..size)
                .map(|i| (rng.pick(&names).clone(), Value::Int(i)))
                .collect();
            let json = serde_json::to_string(&as_btree(&fields)).expect("serialize");
            for map in [
                map_of(&fields),
                serde_json::from_str(&json).expect("deserialize"),
            ] {
                let value = Value::Map(std::sync::Arc::new(map.clone()));
                // NB: one hint for every lookup, so most start at another name's place.
                let last_at = AtomicU8::new(0);
                for name in names.iter().chain(&names) {
                    let made = FieldName::from(name.as_str());
                    let found = map.get_at(&made, &last_at);
                    assert_eq!(found, map.get(name), "{name:?} in {fields:?}");
                    assert_eq!(value.get_at(&made, &last_at), value.get(name), "{name:?}");
                }
            }
        }
    }

    #[test]
    fn order_hash_and_serde_are_the_btree_maps() {
        let mut rng = Rng::new(5, 0);
        let maps: Vec<Vec<(String, Value)>> =
            (0..60).map(|i| random_fields(&mut rng, i % 6)).collect();
        for a in &maps {
            let (map_a, btree_a) = (map_of(a), as_btree(a));
            assert_eq!(stable_hash(&map_a), stable_hash(&btree_a));
            let json = serde_json::to_string(&btree_a).expect("serialize");
            assert_eq!(serde_json::to_string(&map_a).expect("serialize"), json);
            assert_eq!(format!("{map_a:?}"), format!("{btree_a:?}"));
            let back: ValueMap = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, map_a);
            for b in &maps {
                let (map_b, btree_b) = (map_of(b), as_btree(b));
                assert_eq!(map_a.cmp(&map_b), btree_a.cmp(&btree_b));
            }
        }
    }

    #[test]
    fn a_scanned_field_is_the_one_the_tree_finds() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "bbcd",
            "abcdefg",
            "abcdefh",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "xbcdefghijklmnop",
            "abcdefghijklmnopq",
            "é",
            "éa",
        ];
        let mut rng = Rng::new(5, 0);
        for _ in 0..500 {
            let entries = rng.below(SCANNED_FIELDS as u64 + 4) as usize;
            let fields: Vec<(String, Value)> = (0..entries)
                .map(|i| (rng.pick(&names).to_string(), Value::Int(i as i64)))
                .collect();
            let (map, btree) = (map_of(&fields), as_btree(&fields));
            for name in names {
                assert_eq!(map.get(name), btree.get(name), "{name:?} in {map:?}");
            }
        }
    }
}
