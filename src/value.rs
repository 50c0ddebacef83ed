//! The compact value type that flows through every pipeline, and rows of them.
//!
//! `Value` is JSON with one split: numbers are either `Int(i64)` or `Float`. It is totally
//! ordered and hashable (floats compare with `total_cmp`), so it can be the key of a
//! differential arrangement and cross process boundaries with serde.
//!
//! A `Row` is positional: the names of its fields live in a [`Schema`](crate::schema::Schema)
//! fixed when a plan is built, so evaluating `value.amount` is an index and a map lookup,
//! never a string search over field names. [`json`] parses JSON text straight into a
//! `Value`.
//!
//! # How rows are laid out, and what was taken from Materialize and Feldera
//!
//! Materialize packs a row's datums into one byte string (a tag byte, then the datum's
//! bytes, no padding; 23 bytes inline before it allocates), reads them back as `Datum`s that
//! borrow from those bytes, and orders rows in its arrangements by length and then bytes,
//! not by the datums' order, since no output shows an arrangement's order. Feldera's SQL
//! compiler generates a Rust tuple type per relation (`Tup3<i64, SqlString, ..>`): typed
//! fields, a derived order, no tags at run time.
//!
//! Decision: a pipeline here comes from a file when the engine is already built, so there is
//! no per-pipeline type to generate; rows stay positional vectors of `Value`, with names and
//! JSON paths resolved when the plan is built (Feldera's positions, without the generated
//! type). From Materialize's rows the engine takes the idea that a comparison should mostly
//! look at bytes and integers, not walk values: a join's keys and rows compare a stable hash
//! first (`render::hashed_row`), a sink sorts a time's rows by a 36-byte prefix that orders
//! as the rows do (`value::order`, `sinks::row_sort`), a session's group is interned to an
//! integer id (`operators::window::session::interned`), and a JSON object is one sorted
//! array of inline names (`value::map`). A packed byte row was not taken: a sink writes a
//! time's rows in the values' order (every output file so far is written that way, and
//! stays byte for byte the same), which a byte order is not; and expressions read fields by
//! index, which a packed row answers only by walking the fields before it. What a row of
//! `Value`s needs to move cheaply is a tag that is a whole word (below) and strings shared
//! rather than copied.

mod field_name;
pub mod json;
mod map;
mod order;
mod quick_hash;
pub mod row_pool;
pub use field_name::FieldName;
pub use map::ValueMap;
pub use order::{OrderPrefix, PREFIX_BYTES, order_prefix};
pub use quick_hash::{quick_hash, str_hash};

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::AtomicU8;

use serde::{Deserialize, Serialize};

/// An `f64` with a total order (`f64::total_cmp`), so values can be keys.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl Hash for F64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// A JSON-like value: null, bool, i64, f64, string, list, map.
///
/// Strings, lists and maps are shared (`Arc`): a value is cloned at every step of a pipeline
/// (shard state, change event, rows, group keys), and a clone must not copy a document.
/// Serde writes them as plain strings, sequences and maps.
///
/// Decision: the tag is a whole word (`repr(u64)`), in the word a one-byte tag would have
/// left as padding, so a value is three words and no bigger. With a one-byte tag, a value
/// built and then moved was stored byte by byte and loaded back sixteen bytes at a time,
/// and the load waited on the stores; rows, group keys and expression results all move
/// values so. `window_counts.toml` over 500 000 lines, `-w 1`, 8 alternating runs: CPU time
/// 1 369 → 1 318 ms mean, 3 128 → 3 073 M instructions over 200 000 lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u64)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(F64),
    Str(Arc<str>),
    List(Arc<Vec<Value>>),
    Map(Arc<ValueMap>),
}

// NB: the wider tag takes the padding's place: a value, and a value or nothing, stay three
// words.
const _: () = assert!(std::mem::size_of::<Value>() == 24);
const _: () = assert!(std::mem::size_of::<Option<Value>>() == 24);

impl Value {
    /// Converts parsed JSON into a `Value`; integral numbers that fit become `Int`.
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(F64(n.as_f64().unwrap_or(f64::NAN))),
            },
            serde_json::Value::String(s) => Value::from(s),
            serde_json::Value::Array(items) => {
                Value::list(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => {
                Value::map(map.into_iter().map(|(k, v)| (k, Value::from_json(v))))
            }
        }
    }

    /// Parses a JSON text into a `Value`.
    pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<serde_json::Value>(text).map(Value::from_json)
    }

    /// A string value.
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A map value of `fields` in any order; a repeated name keeps its last value.
    pub fn map<N: Into<FieldName>>(fields: impl IntoIterator<Item = (N, Value)>) -> Value {
        Value::Map(Arc::new(fields.into_iter().collect()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A number as `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(f.0),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The name of this value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Looks up `name` if this is a map; `Null` otherwise (JSON path semantics).
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Map(map) => map.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// [`Self::get`] by a [`FieldName`] made once, looked for first at `last_at` (see
    /// [`ValueMap::get_at`]).
    #[inline]
    pub fn get_at(&self, name: &FieldName, last_at: &AtomicU8) -> &Value {
        match self {
            Value::Map(map) => map.get_at(name, last_at).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Writes this value as compact JSON. Non-finite floats become `null`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Value::Float(f) => write_float(f.0, out),
            Value::Str(s) => write_json_string(s, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k.as_str(), out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// This value as a compact JSON string.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
}

static NULL: Value = Value::Null;

/// Writes a float as the standard formatting does: integral values below 1e15 with one
/// decimal (`5.0`), others as their shortest round-trip digits, never in exponent notation.
/// Decision: a fractional value goes through `zmij`'s shortest digits, which are the
/// standard library's (the unit test compares the two over millions of values) at a
/// fraction of the cost: Nexmark q1 writes a float per bid. Its exponent form (below 1e-5
/// or from 1e16 on) is not the standard one, and at 16 or 17 digits the two may break a tie
/// differently (see [`AMBIGUOUS_DIGITS`]); those values take the standard path, unless no
/// tie is possible ([`cannot_tie`]).
fn write_float(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str("null");
    } else if f == f.trunc() {
        if f.abs() < 1e15 {
            let _ = write!(out, "{f:.1}");
        } else {
            let _ = write!(out, "{f}");
        }
    } else {
        let mut buffer = zmij::Buffer::new();
        let digits = buffer.format_finite(f);
        let ambiguous = || significant_digits(digits) >= AMBIGUOUS_DIGITS && !cannot_tie(f);
        if digits.contains('e') || ambiguous() {
            let _ = write!(out, "{f}");
        } else {
            out.push_str(digits);
        }
    }
}

/// From this many significant digits on, two shortest forms of a float can be equally
/// near it, and `zmij` breaks the tie to the even digit where the standard library rounds
/// up (`-2174330650677487.25` is `…87.2` against `…87.3`).
const AMBIGUOUS_DIGITS: usize = 16;

/// Whether `f` cannot lie exactly halfway between two decimals of one length, 17
/// significant digits or fewer: then its shortest form nearest to it is the only one, and
/// both writers give it. NB: such a midpoint, written exactly, has one digit more (a final
/// 5). A float `m * 2^-j` (`m` odd) is exactly `m * 5^j / 10^j`, whose significant digits
/// are those of `m * 5^j`; with 19 or more, `f` is no such midpoint. Most products like
/// Nexmark q1's (`118.94800000000001`) have over 40, so they need not take the standard path
/// as well (over q1's 200 000 events it cost 38.3 M instructions on top of `zmij`'s 29.7 M).
fn cannot_tie(f: f64) -> bool {
    let bits = f.to_bits();
    let biased = (bits >> 52 & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, biased - 1075),
    };
    if mantissa == 0 {
        return false;
    }
    let zeros = mantissa.trailing_zeros();
    let (odd, exponent) = (mantissa >> zeros, exponent + zeros as i32);
    match exponent {
        0.. => false,
        // NB: 5^26 alone has 19 digits.
        ..=-26 => true,
        _ => u128::from(odd) * 5u128.pow(exponent.unsigned_abs()) >= 10u128.pow(18),
    }
}

/// The significant digits of a plain decimal (`-0.00125` has three).
fn significant_digits(decimal: &str) -> usize {
    let digits = decimal.bytes().filter(u8::is_ascii_digit);
    digits.skip_while(|digit| *digit == b'0').count()
}

/// Writes `s` as a JSON string literal with the escapes JSON requires.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut clean = 0;
    let mut at = plain_prefix(bytes);
    while at < bytes.len() {
        let byte = bytes[at];
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            at += 1;
            continue;
        }
        out.push_str(&s[clean..at]);
        clean = at + 1;
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        at += 1;
    }
    out.push_str(&s[clean..]);
    out.push('"');
}

/// How many leading bytes need no escape, found sixteen and then eight at a time (a word
/// with a control byte, a quote or a backslash stops the scan; the byte loop takes it from
/// there). The last few bytes are checked as one word padded with a plain byte, so a string
/// without escapes is never walked byte by byte.
fn plain_prefix(bytes: &[u8]) -> usize {
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    let mut at = 0;
    for pair in bytes.chunks_exact(16) {
        if escapes_in(word(&pair[..8])) | escapes_in(word(&pair[8..])) != 0 {
            break;
        }
        at += 16;
    }
    for chunk in bytes[at..].chunks_exact(8) {
        if escapes_in(word(chunk)) != 0 {
            return at;
        }
        at += 8;
    }
    let rest = &bytes[at..];
    let mut padded = [b'a'; 8];
    padded[..rest.len()].copy_from_slice(rest);
    match escapes_in(u64::from_le_bytes(padded)) {
        0 => bytes.len(),
        _ => at,
    }
}

/// Nonzero when one of the eight bytes of `word` is a control byte, a quote or a backslash.
#[inline(always)]
fn escapes_in(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    control
        | zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(F64(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v.into())
    }
}
impl From<Arc<str>> for Value {
    fn from(v: Arc<str>) -> Self {
        Value::Str(v)
    }
}

/// A positional row; field names live in the pipeline's schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Row(pub Vec<Value>);

/// A row hashes and compares as its slice of values, so maps keyed by rows can be probed
/// with a borrowed `&[Value]` buffer.
impl std::borrow::Borrow<[Value]> for Row {
    fn borrow(&self) -> &[Value] {
        &self.0
    }
}

impl Row {
    pub fn get(&self, index: usize) -> &Value {
        self.0.get(index).unwrap_or(&NULL)
    }

    /// Writes the row as a flat JSON object with the given field names.
    pub fn write_json_object(&self, names: &[String], out: &mut String) {
        out.push('{');
        self.write_json_fields(names, out);
        out.push('}');
    }

    /// Writes `"name":value` pairs, comma separated, without braces.
    pub fn write_json_fields(&self, names: &[String], out: &mut String) {
        for (i, (name, value)) in names.iter().zip(self.0.iter()).enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_string(name, out);
            out.push(':');
            value.write_json(out);
        }
    }

    /// [`Self::write_json_fields`] with the names rendered once, for a sink that writes many
    /// rows of one schema.
    pub fn write_json_keyed(&self, keys: &JsonKeys, out: &mut String) {
        for (i, (key, value)) in keys.0.iter().zip(self.0.iter()).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            value.write_json(out);
        }
    }
}

/// Field names rendered as JSON object keys, `"name":`, once per schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonKeys(Vec<String>);

impl JsonKeys {
    pub fn new(names: &[String]) -> JsonKeys {
        let render = |name: &String| {
            let mut key = String::with_capacity(name.len() + 3);
            write_json_string(name, &mut key);
            key.push(':');
            key
        };
        JsonKeys(names.iter().map(render).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_wherever_the_special_byte_falls() {
        let reference = |s: &str| serde_json::to_string(s).unwrap();
        let specials = [
            "\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "中", "😀", "\u{7f}", " ",
        ];
        for len in 0..24 {
            for special in specials {
                for at in 0..=len {
                    let mut text: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    text.insert_str(at.min(text.len()), special);
                    let mut out = String::new();
                    write_json_string(&text, &mut out);
                    assert_eq!(out, reference(&text), "{text:?}");
                }
            }
        }
    }

    /// What `write_float` wrote before it took `zmij`'s digits: the standard formatting.
    fn standard_float(f: f64) -> String {
        match (f.is_finite(), f == f.trunc() && f.abs() < 1e15) {
            (false, _) => "null".to_string(),
            (true, true) => format!("{f:.1}"),
            (true, false) => format!("{f}"),
        }
    }

    #[test]
    fn floats_are_written_as_the_standard_formatting_writes_them() {
        let mut rng = crate::rng::Rng::new(11, 0);
        let check = |f: f64| {
            let mut out = String::new();
            write_float(f, &mut out);
            assert_eq!(out, standard_float(f), "{f:e}");
        };
        for special in [0.0, -0.0, 0.1, 0.2 + 0.1, 1e-5, 9.99e-6, 1e15, 1e16, 5e-324] {
            check(special);
            check(-special);
        }
        check(f64::NAN);
        check(f64::INFINITY);
        for _ in 0..1_000_000 {
            // NB: any bit pattern (every exponent), then products like a query's.
            check(f64::from_bits(rng.next_u64()));
            check(0.908 * rng.below(100_000_000) as f64 / 10f64.powi(rng.below(8) as i32));
            // NB: exact binary fractions of every size, where two shortest forms tie, and
            // up to past the fractions that cannot tie.
            let whole = rng.below(1 << 53) >> rng.below(40);
            check(whole as f64 / (1u64 << rng.below(12)) as f64);
            check(whole as f64 / (1u64 << rng.below(32)) as f64);
            // NB: 16 and 17 digits, with every number of fraction bits.
            let large = (1u64 << 52 | rng.below(1 << 52)) as f64;
            check(large / 2f64.powi(rng.below(60) as i32));
        }
    }

    /// A tie at 17 digits goes the standard way; a value with many fraction bits goes
    /// through `zmij` and is written the same.
    #[test]
    fn only_a_float_that_could_tie_takes_the_standard_path() {
        // NB: -2174330650677487.25, exactly.
        let tie = -8_697_322_602_709_949.0 / 4.0;
        assert!(!cannot_tie(tie));
        let mut out = String::new();
        write_float(tie, &mut out);
        assert_eq!(out, "-2174330650677487.3");
        let product = 0.908 * 131.0;
        assert!(cannot_tie(product));
        let mut out = String::new();
        write_float(product, &mut out);
        assert_eq!(out, "118.94800000000001");
        assert_eq!(standard_float(product), out);
        assert!(!cannot_tie(0.5) && !cannot_tie(3.0) && !cannot_tie(0.0));
        assert!(cannot_tie(0.1), "0.1 is 55 fraction bits");
    }

    #[test]
    fn rendered_keys_write_what_the_names_write() {
        let names = ["a".to_string(), "quo\"te".to_string(), "tab\t".to_string()];
        let row = Row(vec![Value::Int(1), Value::str("x"), Value::Null]);
        let (mut by_names, mut by_keys) = (String::new(), String::new());
        row.write_json_fields(&names, &mut by_names);
        row.write_json_keyed(&JsonKeys::new(&names), &mut by_keys);
        assert_eq!(by_keys, by_names);
        assert_eq!(by_keys, r#""a":1,"quo\"te":"x","tab\t":null"#);
    }

    #[test]
    fn json_round_trip_keeps_ints_and_floats_apart() {
        let v = Value::parse_json(r#"{"a":1,"b":1.5,"c":[true,null,"x\"y"],"d":2.0}"#).unwrap();
        assert_eq!(v.get("a"), &Value::Int(1));
        assert_eq!(v.get("b"), &Value::Float(F64(1.5)));
        assert_eq!(
            v.to_json_string(),
            r#"{"a":1,"b":1.5,"c":[true,null,"x\"y"],"d":2.0}"#
        );
    }

    #[test]
    fn floats_are_totally_ordered() {
        let mut v = [Value::from(2.0), Value::from(f64::NAN), Value::from(-1.0)];
        v.sort();
        assert_eq!(v[0], Value::from(-1.0));
        assert_eq!(Value::from(f64::NAN).to_json_string(), "null");
    }
}
