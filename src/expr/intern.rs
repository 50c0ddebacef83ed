//! Shared strings for the short results of string functions.
//!
//! `split_part(key, '_', 1)` and the like return a part of their input, and most inputs
//! share a few distinct parts (a prefix, a kind). Allocating a fresh string per row cost an
//! allocation and a free per event; here each thread keeps a small direct-mapped table of
//! recent short results, so an equal result is a reference count on one shared string (and
//! later comparisons of two such strings are a pointer comparison). The table has a fixed
//! number of slots, so memory stays bounded whatever the data.

use std::cell::RefCell;
use std::sync::Arc;

use crate::value::{Value, str_hash};

/// Results longer than this are allocated as they are: long strings repeat rarely.
const MAX_LEN: usize = 32;
const SLOTS: usize = 256;

thread_local! {
    // NB: a fixed array initialised as a constant: no first-use check or indirection per call.
    static TABLE: RefCell<[Option<Arc<str>>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// `s` as a string value, shared with an equal recent result of this thread when short.
pub(crate) fn str_value(s: &str) -> Value {
    if s.len() > MAX_LEN {
        return Value::from(s);
    }
    let slot = slot_of(s);
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        match &table[slot] {
            Some(shared) if **shared == *s => Value::Str(shared.clone()),
            _ => {
                let shared: Arc<str> = Arc::from(s);
                table[slot] = Some(shared.clone());
                Value::Str(shared)
            }
        }
    })
}

/// The slot of a short string: the top byte of its quick hash (`value::str_hash`). NB: the
/// general hasher cost about a third of a lookup for the one-byte prefixes `split_part`
/// mostly returns.
fn slot_of(s: &str) -> usize {
    (str_hash(s.as_bytes()) >> 56) as usize % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_short_results_share_one_string() {
        let (Value::Str(a), Value::Str(b)) = (str_value("prefix"), str_value("prefix")) else {
            panic!("strings");
        };
        assert!(Arc::ptr_eq(&a, &b));
        let long = "x".repeat(MAX_LEN + 1);
        assert_eq!(str_value(&long), Value::from(long.as_str()));
        assert_eq!(str_value(""), Value::from(""));
    }

    #[test]
    fn a_few_short_results_keep_their_own_slots_and_every_result_is_its_text() {
        let prefixes = ["a", "b", "c", "d", "e", "f", "insert", "update", "delete"];
        let mut slots: Vec<usize> = prefixes.iter().map(|p| slot_of(p)).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), prefixes.len(), "no two evict each other");
        for text in (0..1000)
            .map(|i| format!("part_{i}"))
            .chain(["é", "日本"].map(String::from))
        {
            assert_eq!(str_value(&text), Value::from(text.as_str()));
        }
    }
}
