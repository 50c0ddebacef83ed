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

/// The start of a row's place in the order as bytes: comparing two prefixes never
/// contradicts comparing the rows, and rows whose prefixes are equal are told apart by
/// comparing them whole (see [`order_prefix`]).
pub type OrderPrefix = [u8; PREFIX_BYTES];

/// The bytes an [`OrderPrefix`] holds.
pub const PREFIX_BYTES: usize = 36;

/// The prefix of `row`'s place in the order.
///
/// Field after field, each is its variant's rank (one more than in [`rank`], so a missing
/// field, a zero byte, sorts first as a shorter row does), then bytes that order values of
/// that variant: an integer or a float as its bits made to order as unsigned (eight bytes,
/// big-endian), a string in pieces of seven bytes each followed by a byte that is 255 when
/// the string goes on and its bytes left (0–7) when it ends there. A field is exact when
/// equal bytes mean equal values (a null, bool, integer or float, a string that ends within
/// the prefix); the prefix stops after a field that is not, and is zero after its end.
pub fn order_prefix(row: &[Value]) -> OrderPrefix {
    let mut prefix = [0u8; PREFIX_BYTES];
    let mut at = 0;
    for value in row {
        if at == PREFIX_BYTES {
            break;
        }
        prefix[at] = rank(value) + 1;
        at += 1;
        let exact = match value {
            Value::Null => true,
            Value::Bool(b) => put_word(&mut prefix, &mut at, u64::from(*b)),
            Value::Int(i) => put_word(&mut prefix, &mut at, (*i as u64) ^ (1 << 63)),
            Value::Float(f) => put_word(&mut prefix, &mut at, float_payload(f.0)),
            Value::Str(s) => put_string(&mut prefix, &mut at, s.as_bytes()),
            Value::List(_) | Value::Map(_) => false,
        };
        if !exact {
            break;
        }
    }
    prefix
}

/// Writes `word` big-endian at `at` (as much as fits); whether all of it did.
#[inline]
fn put_word(prefix: &mut OrderPrefix, at: &mut usize, word: u64) -> bool {
    let bytes = word.to_be_bytes();
    if let Some(slot) = prefix.get_mut(*at..*at + 8) {
        slot.copy_from_slice(&bytes);
        *at += 8;
        return true;
    }
    let fits = PREFIX_BYTES - *at;
    prefix[*at..].copy_from_slice(&bytes[..fits]);
    *at = PREFIX_BYTES;
    false
}

/// Writes `bytes` in pieces of seven, each followed by 255 or, for the last, its length
/// (as much as fits); whether the string ended within the prefix.
fn put_string(prefix: &mut OrderPrefix, at: &mut usize, bytes: &[u8]) -> bool {
    let mut pieces = bytes.chunks(7);
    let mut piece = pieces.next().unwrap_or_default();
    loop {
        let mut word = [0u8; 8];
        word[..piece.len()].copy_from_slice(piece);
        let next = pieces.next();
        word[7] = match next {
            Some(_) => u8::MAX,
            None => piece.len() as u8,
        };
        if !put_word(prefix, at, u64::from_be_bytes(word)) {
            return false;
        }
        match next {
            Some(next) => piece = next,
            None => return true,
        }
    }
}

/// `f64::total_cmp`'s order as unsigned integers.
fn float_payload(f: f64) -> u64 {
    let bits = f.to_bits() as i64;
    let ordered = bits ^ (((bits >> 63) as u64) >> 1) as i64;
    (ordered as u64) ^ (1 << 63)
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
