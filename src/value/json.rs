//! A serde `Deserialize` straight into [`Value`], skipping `serde_json::Value`.
//!
//! Same mapping as [`Value::from_json`]: integers that fit `i64` become `Int`, other numbers
//! `Float`; a repeated map key keeps its last value.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{F64, FieldName, Value};

/// A [`Value`] that deserializes from any self-describing format (JSON here).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonValue(pub Value);

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(JsonValue)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(F64(v as f64)),
        })
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(F64(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(JsonValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::list(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut fields = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some((key, JsonValue(value))) = access.next_entry::<FieldName, JsonValue>()? {
            fields.push((key, value));
        }
        Ok(Value::map(fields))
    }
}

/// Parses one JSON text into a [`Value`].
pub fn parse_value(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<JsonValue>(text).map(|v| v.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_from_json() {
        let texts = [
            r#"{"a":1,"b":1.5,"c":[true,null,"x\"y\u00e9"],"d":2.0,"a":3}"#,
            "18446744073709551615",
            "-9223372036854775808",
            "9223372036854775808",
            "1e300",
            "-0.0",
            "[]",
            "{}",
            r#"[[[{"k":[1,{"z":null}]}]]]"#,
        ];
        for text in texts {
            let slow = Value::parse_json(text).unwrap();
            assert_eq!(parse_value(text).unwrap(), slow, "{text}");
        }
        assert!(parse_value("[1,").is_err());
        assert!(parse_value("1e999").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_value(&deep).is_err());
    }
}
