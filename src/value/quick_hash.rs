//! A quick hash of a row's values, for the tables an operator keeps in memory (groups being
//! folded, open sessions' groups).
//!
//! The derived `Hash` of a value feeds a hasher its tag, then a string's bytes, then a
//! terminator: three calls for a one-byte prefix, about 80 instructions a value in a profile
//! of `window_counts.toml`. Here an integer is one multiply and a string of up to sixteen
//! bytes two words loaded and mixed; longer strings, lists and maps use the derived hash.
//! Equal values hash alike (a float by its bits, as its equality compares them).
//!
//! NB: not for routing. Which worker owns a group is `store::stable_hash`, the derived hash,
//! which every process must agree on; this hash may change between releases.

use std::hash::BuildHasher;

use super::Value;

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash of `values` (equal rows hash alike).
pub fn quick_hash(values: &[Value]) -> u64 {
    values.iter().fold(values.len() as u64, |hash, value| {
        mix(hash ^ value_hash(value))
    })
}

fn value_hash(value: &Value) -> u64 {
    match value {
        Value::Null => 0x6e75_6c6c,
        Value::Bool(b) => 0x626f_6f6c ^ u64::from(*b),
        Value::Int(i) => *i as u64,
        Value::Float(f) => mix(f.0.to_bits() ^ 0x666c_6f61),
        Value::Str(s) => str_hash(s.as_bytes()),
        Value::List(_) | Value::Map(_) => foldhash::fast::FixedState::with_seed(0).hash_one(value),
    }
}

/// A string's bytes: up to sixteen in two words (the first and the last eight, overlapping
/// or zero-padded), with the length; longer ones through the general hasher. Also the slot
/// of a shared short string (`expr::intern`).
pub fn str_hash(bytes: &[u8]) -> u64 {
    let len = bytes.len() as u64;
    let (first, last) = match bytes.len() {
        0..=7 => (padded_word(bytes), 0),
        8..=16 => (word(&bytes[..8]), word(&bytes[bytes.len() - 8..])),
        _ => return foldhash::fast::FixedState::with_seed(len).hash_one(bytes),
    };
    mix(mix(first ^ len.rotate_left(56)) ^ last)
}

fn word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

fn padded_word(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |word, byte| word << 8 | u64::from(*byte))
}

fn mix(x: u64) -> u64 {
    let folded = u128::from(x ^ MIX) * u128::from(MIX);
    (folded as u64) ^ ((folded >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::value::{F64, Row};

    fn values() -> Vec<Value> {
        let mut values = vec![
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Float(F64(1.0)),
            Value::Float(F64(-0.0)),
            Value::List(Arc::new(vec![Value::Int(1)])),
            Value::from(""),
        ];
        values.extend((-50..50).map(Value::Int));
        for len in [1, 7, 8, 9, 15, 16, 17, 40] {
            values.extend(["a", "b", "é"].map(|c| Value::from(c.repeat(len).as_str())));
        }
        values
    }

    /// An equal value with a string of its own.
    fn fresh(value: &Value) -> Value {
        match value {
            Value::Str(s) => Value::from(s.to_string().as_str()),
            other => other.clone(),
        }
    }

    #[test]
    fn equal_rows_hash_alike_and_distinct_ones_seldom_collide() {
        let values = values();
        let mut rows = Vec::new();
        for a in &values {
            rows.push(Row(vec![a.clone()]));
            for b in values.iter().step_by(7) {
                rows.push(Row(vec![a.clone(), b.clone()]));
            }
        }
        for row in &rows {
            // NB: a copy that shares no string with the original.
            let copy = Row(row.0.iter().map(fresh).collect());
            assert_eq!(quick_hash(&row.0), quick_hash(&copy.0), "{row:?}");
        }
        let hashes: HashSet<u64> = rows.iter().map(|r| quick_hash(&r.0)).collect();
        let distinct: HashSet<&Row> = rows.iter().collect();
        assert_eq!(
            hashes.len(),
            distinct.len(),
            "no two distinct rows collide here"
        );
    }
}
