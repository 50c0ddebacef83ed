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
