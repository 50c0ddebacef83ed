//! The binary form of a [`Value`] in log records and snapshots (record version 3).
//!
//! ```text
//! tag  0 null | 1 false | 2 true
//!      3 int    8 bytes i64 LE
//!      4 float  8 bytes f64 bits LE
//!      5 str    4 bytes length (u32 LE), UTF-8
//!      6 list   4 bytes count (u32 LE), then each item
//!      7 map    4 bytes count (u32 LE), then per entry: 4 bytes key length, UTF-8 key, value
//! ```
//!
//! Decision: records kept values as JSON text until a profile of appends showed writing the
//! JSON (escaping, number formatting) was two thirds of the cost of logging a mutation; the
//! binary form copies strings whole and numbers as words. Decoding checks every length
//! against the bytes left and bounds nesting, so damaged bytes give an error, never a panic.

use std::sync::Arc;

use crate::value::{F64, FieldName, Value, ValueMap};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const LIST: u8 = 6;
const MAP: u8 = 7;
/// Deeper values are refused when decoding (JSON input is bounded the same way).
const MAX_DEPTH: usize = 128;

/// Appends `value`'s binary form to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.0.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(STR);
            put_bytes(s.as_bytes(), out);
        }
        Value::List(items) => {
            out.push(LIST);
            put_len(items.len(), out);
            for item in items.iter() {
                encode_value(item, out);
            }
        }
        Value::Map(map) => {
            out.push(MAP);
            put_len(map.len(), out);
            for (key, item) in map.iter() {
                put_bytes(key.as_bytes(), out);
                encode_value(item, out);
            }
        }
    }
}

/// The length of `value`'s binary form, without writing it: `encode_value`'s output length.
pub fn encoded_len(value: &Value) -> usize {
    const LEN: usize = 4;
    1 + match value {
        Value::Null | Value::Bool(_) => 0,
        Value::Int(_) | Value::Float(_) => 8,
        Value::Str(s) => LEN + s.len(),
        Value::List(items) => LEN + items.iter().map(encoded_len).sum::<usize>(),
        Value::Map(map) => {
            let entry =
                |(key, item): (&FieldName, &Value)| LEN + key.as_bytes().len() + encoded_len(item);
            LEN + map.iter().map(entry).sum::<usize>()
        }
    }
}

fn put_len(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// Decodes a whole value: `bytes` must hold exactly one.
pub fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.value(0)?;
    if reader.at != bytes.len() {
        return Err(format!("{} bytes after the value", bytes.len() - reader.at));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("value runs past the payload at byte {}", self.at))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn word(&mut self) -> Result<[u8; 8], String> {
        let mut word = [0; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(word)
    }

    fn len(&mut self) -> Result<usize, String> {
        let mut len = [0; 4];
        len.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(len) as usize)
    }

    fn text(&mut self) -> Result<&'a str, String> {
        let len = self.len()?;
        std::str::from_utf8(self.take(len)?).map_err(|e| format!("string is not UTF-8: {e}"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("value nested deeper than {MAX_DEPTH}"));
        }
        let tag = self.take(1)?[0];
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(i64::from_le_bytes(self.word()?)),
            FLOAT => Value::Float(F64(f64::from_bits(u64::from_le_bytes(self.word()?)))),
            STR => Value::Str(Arc::from(self.text()?)),
            LIST => {
                let count = self.len()?;
                // NB: every item takes at least one byte, so a damaged count cannot make
                // this allocate more than the payload could hold.
                let mut items = Vec::with_capacity(count.min(self.bytes.len() - self.at));
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::List(Arc::new(items))
            }
            MAP => {
                let count = self.len()?;
                // NB: every field takes at least five bytes (see `items` above).
                let mut fields = Vec::with_capacity(count.min(self.bytes.len() - self.at));
                for _ in 0..count {
                    let key = FieldName::from(self.text()?);
                    fields.push((key, self.value(depth + 1)?));
                }
                Value::Map(Arc::new(ValueMap::from_fields(fields)))
            }
            other => return Err(format!("unknown value tag {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) {
        let value = Value::parse_json(json).expect("json");
        let mut bytes = Vec::new();
        encode_value(&value, &mut bytes);
        assert_eq!(encoded_len(&value), bytes.len(), "{json}");
        assert_eq!(decode_value(&bytes), Ok(value), "{json}");
    }

    #[test]
    fn every_kind_of_value_round_trips() {
        for json in [
            "null",
            "true",
            "false",
            "-9223372036854775808",
            "1.5e300",
            "-0.0",
            r#""é \"quoted\" \n""#,
            "[]",
            r#"[1,[2,[3,"x"]],{"a":null}]"#,
            r#"{"amount":12,"name":"customer 7","tags":["a","b"],"nested":{"x":1.25}}"#,
            "{}",
        ] {
            round_trip(json);
        }
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let value = Value::parse_json(r#"{"a":[1,"two",{"b":3.5}],"c":"dé"}"#).expect("json");
        let mut bytes = Vec::new();
        encode_value(&value, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode_value(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..4000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut damaged = bytes.clone();
            let at = (seed % damaged.len() as u64) as usize;
            damaged[at] ^= (seed >> 32) as u8 | 1;
            let _ = decode_value(&damaged);
        }
        let deep = [LIST, 1, 0, 0, 0].repeat(MAX_DEPTH + 2);
        assert!(decode_value(&deep).is_err());
    }
}
