//! Shared strings for the short results of string functions.
//!
//! `split_part(key, '_', 1)` and the like return a part of their input, and most inputs
//! share a few distinct parts (a prefix, a kind). Allocating a fresh string per row cost an
//! allocation and a free per event; here each thread keeps a small direct-mapped table of
//! recent short results, so an equal result is a reference count on one shared string (and
//! later comparisons of two such strings are a pointer comparison). The table has a fixed
//! number of slots, so memory stays bounded whatever the data.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::value::Value;

/// Results longer than this are allocated as they are: long strings repeat rarely.
const MAX_LEN: usize = 32;
const SLOTS: usize = 256;

thread_local! {
    static TABLE: RefCell<Vec<Option<Arc<str>>>> = RefCell::new(vec![None; SLOTS]);
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

fn slot_of(s: &str) -> usize {
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    hasher.write(s.as_bytes());
    hasher.finish() as usize % SLOTS
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
}
