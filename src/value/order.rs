//! The total order of values: the derived order (variant, then contents), with one shortcut.
//!
//! Strings, lists and maps are shared, and the same `Arc` reaches a comparison from both sides
//! often: a row's retraction carries the values its insertion carried (the store keeps them),
//! and a consolidation or an arrangement's merge puts the two side by side. Two handles on one
//! allocation are equal without looking inside, so a map is not walked key by key to find it
//! equal to itself.

use std::cmp::Ordering;
use std::sync::Arc;

use super::Value;

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => shared_cmp(a, b),
            (Value::List(a), Value::List(b)) => shared_cmp(a, b),
            (Value::Map(a), Value::Map(b)) => shared_cmp(a, b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

fn shared_cmp<T: Ord + ?Sized>(a: &Arc<T>, b: &Arc<T>) -> Ordering {
    if Arc::ptr_eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

/// The variant's place in the order (the order of declaration, as a derived `Ord` has it).
fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) => 2,
        Value::Float(_) => 3,
        Value::Str(_) => 4,
        Value::List(_) => 5,
        Value::Map(_) => 6,
    }
}

/// The start of a row's place in the order, two integers per field for its first
/// [`PREFIX_FIELDS`] fields: comparing two prefixes never contradicts comparing the rows,
/// and rows whose prefixes are equal are told apart by comparing them whole (see
/// [`order_prefix`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderPrefix {
    fields: [(u8, u64); PREFIX_FIELDS],
}

/// The fields an [`OrderPrefix`] covers.
pub const PREFIX_FIELDS: usize = 3;

impl OrderPrefix {
    /// Each covered field's rank and payload (zero for a missing field or after an inexact
    /// one).
    pub fn parts(self) -> [(u8, u64); PREFIX_FIELDS] {
        self.fields
    }
}

/// The prefix of `row`'s place in the order.
///
/// Each field is its variant's rank (one more than in [`rank`], so a missing field sorts
/// first, as a shorter row does) and a payload that orders values of that variant: an
/// integer or a float as its bits made to order as unsigned, a string as its first seven
/// bytes and then its length, or 255 when it is longer. A payload is exact when equal
/// payloads mean equal values (every null, bool, integer, float and string of at most seven
/// bytes); a field counts only after exact ones, so two rows with equal prefixes may still
/// differ, never the other way round.
pub fn order_prefix(row: &[Value]) -> OrderPrefix {
    let mut prefix = OrderPrefix::default();
    for (slot, value) in prefix.fields.iter_mut().zip(row) {
        let (field, exact) = field_prefix(value);
        *slot = field;
        if !exact {
            break;
        }
    }
    prefix
}

/// A field's rank and payload, and whether the payload is exact.
fn field_prefix(value: &Value) -> ((u8, u64), bool) {
    const SIGN: u64 = 1 << 63;
    let rank = rank(value) + 1;
    let (payload, exact) = match value {
        Value::Null => (0, true),
        Value::Bool(b) => (u64::from(*b), true),
        Value::Int(i) => ((*i as u64) ^ SIGN, true),
        Value::Float(f) => (float_payload(f.0), true),
        Value::Str(s) => string_payload(s.as_bytes()),
        Value::List(_) | Value::Map(_) => (0, false),
    };
    ((rank, payload), exact)
}

/// `f64::total_cmp`'s order as unsigned integers.
fn float_payload(f: f64) -> u64 {
    let bits = f.to_bits() as i64;
    let ordered = bits ^ (((bits >> 63) as u64) >> 1) as i64;
    (ordered as u64) ^ (1 << 63)
}

/// A string's first seven bytes, big-endian, then its length, or 255 past seven bytes.
fn string_payload(bytes: &[u8]) -> (u64, bool) {
    let mut head = [0u8; 8];
    let kept = bytes.len().min(7);
    head[..kept].copy_from_slice(&bytes[..kept]);
    let exact = bytes.len() <= 7;
    head[7] = if exact { bytes.len() as u8 } else { u8::MAX };
    (u64::from_be_bytes(head), exact)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::F64;

    fn samples() -> Vec<Value> {
        let map = |k: &str, v: i64| Value::map(BTreeMap::from([(k.to_string(), Value::Int(v))]));
        vec![
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-3),
            Value::Int(7),
            Value::Float(F64(-0.5)),
            Value::Float(F64(2.5)),
            Value::str("a"),
            Value::str("ab"),
            Value::list(vec![Value::Int(1)]),
            Value::list(vec![Value::Int(1), Value::Null]),
            map("a", 2),
            map("b", 1),
        ]
    }

    fn prefix_samples() -> Vec<Value> {
        let mut values = samples();
        values.extend(
            [
                "",
                "\0",
                "a\0",
                "abcdefg",
                "abcdefg\0",
                "abcdefgh",
                "abcdefgi",
                "abcdefh",
                "b",
            ]
            .map(Value::str),
        );
        values.extend([i64::MIN, -1, 0, 1, i64::MAX].map(Value::Int));
        values
            .extend([f64::NEG_INFINITY, -0.0, 0.0, 1e300, f64::NAN].map(|f| Value::Float(F64(f))));
        values.extend([Value::Bool(false), Value::Null]);
        values
    }

    #[test]
    fn prefixes_never_contradict_the_order_of_rows() {
        let values = prefix_samples();
        let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
        for a in &values {
            rows.push(vec![a.clone()]);
            for b in values.iter().step_by(3) {
                rows.push(vec![a.clone(), b.clone()]);
                rows.push(vec![a.clone(), b.clone(), Value::Int(1)]);
            }
        }
        for x in &rows {
            for y in &rows {
                let (px, py) = (order_prefix(x), order_prefix(y));
                if px != py {
                    assert_eq!(px.cmp(&py), x.cmp(y), "{x:?} against {y:?}");
                }
            }
        }
    }

    #[test]
    fn the_order_is_variant_then_contents_and_shared_handles_are_equal() {
        let values = samples();
        for (i, a) in values.iter().enumerate() {
            assert_eq!(a.cmp(&a.clone()), Ordering::Equal, "{a:?}");
            for (j, b) in values.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a:?} against {b:?}");
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b);
            }
        }
        let (one, other) = (Value::str("same"), Value::str("same"));
        assert_eq!(one.cmp(&other), Ordering::Equal);
    }
}
