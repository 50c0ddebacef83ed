//! JSON Lines input of mutations, and its exact inverse.
//!
//! One mutation per line:
//! `{"ts": 1700000000123, "op": "put", "key": "user_17", "value": {"name": "Ada"}}`.
//! - `key`: required, a non-empty string.
//! - `op`: `put` (default when omitted), `insert` and `update` (both mean `put`), or `delete`.
//! - `ts`: optional event time, an integer of ms in `0..=MAX_EVENT_TS` (through the year 9999,
//!   see `change::time`); omitted or `null` means `None`. A `ts` out of that range is a bad
//!   line: it would overflow window arithmetic and JSON readers downstream.
//! - `value`: any JSON; omitted means `null`; ignored (`Null`) for a delete.
//!
//! Any other field is an error, to catch typos. Blank lines are skipped but counted, so
//! [`LineError::line`] is the line number an editor shows. CRLF line ends and a UTF-8 byte
//! order mark on the first line are accepted. Parsing never panics.
//!
//! A line that is not JSON at all (plain text, a cut-off object, binary) is reported as such
//! with its first [`SHOWN_CHARS`] characters, escaped and quoted, since the parser's own
//! words ("expected ident at column 2") do not say what is wrong with the line:
//! `not a JSON object: "hello world"` for a line that does not start with `{`, and
//! `not valid JSON (<parser message>): "<start>…"` for one that does, or that is not UTF-8.
//!
//! A bad line keeps at most its first 1000 characters, so one huge line cannot blow up the
//! `bad-input.jsonl` record of it. Decision: a record whose text was cut says so with
//! `"truncated":true` and the line's whole length, `"bytes":N` (bytes, as a file and `wc -c`
//! count them), so a reader never mistakes the prefix for the line; a whole line's record
//! has neither field ([`LineError::write_json`]).

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::BufRead;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Unexpected, Visitor};

use crate::change::time::{MAX_EVENT_TS, event_time_range};
use crate::change::{Mutation, Op};
use crate::value::json::JsonValue;
use crate::value::{Value, write_json_string};

/// A line that could not be read or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    pub message: String,
    /// The raw line, cut to its first 1000 characters.
    pub text: String,
    /// The raw line's length in bytes, when `text` was cut from it (`None`: it is whole).
    pub cut_from: Option<usize>,
}

impl LineError {
    /// The `bad-input.jsonl` record of the line, ending in `\n`:
    /// `{"line":..,"error":"..","text":".."}`, with `"truncated":true,"bytes":N` after
    /// `text` when it was cut.
    pub fn write_json(&self, out: &mut String) {
        let _ = write!(out, "{{\"line\":{},\"error\":", self.line);
        write_json_string(&self.message, out);
        out.push_str(",\"text\":");
        write_json_string(&self.text, out);
        if let Some(bytes) = self.cut_from {
            let _ = write!(out, ",\"truncated\":true,\"bytes\":{bytes}");
        }
        out.push_str("}\n");
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LineError {}

const MAX_TEXT_CHARS: usize = 1000;

/// `text` cut to its first `MAX_TEXT_CHARS` characters, and the raw length it was cut from.
fn truncate(text: &str, raw_len: usize) -> (String, Option<usize>) {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => (text[..end].to_string(), Some(raw_len)),
        None => (text.to_string(), None),
    }
}

/// How many characters of a line that is not JSON its error message shows.
pub const SHOWN_CHARS: usize = 40;

/// The first [`SHOWN_CHARS`] characters of `line`, escaped and quoted, with `…` inside the
/// quotes when the line is longer.
fn quoted_start(line: &str) -> String {
    let (start, cut) = match line.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => (&line[..end], true),
        None => (line, false),
    };
    let quoted = format!("{start:?}");
    match cut {
        true => format!("{}…\"", &quoted[..quoted.len() - 1]),
        false => quoted,
    }
}

/// The message for a line the JSON parser refused (see the module doc).
fn describe(e: &serde_json::Error, line: &str) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof if !line.trim_start().starts_with('{') => {
            format!("not a JSON object: {}", quoted_start(line))
        }
        Category::Syntax | Category::Eof => {
            format!("not valid JSON ({}): {}", message(e), quoted_start(line))
        }
        Category::Data | Category::Io => message(e),
    }
}

/// Parses one line into a mutation; the error is a message without the line number.
pub fn parse_mutation(line: &str) -> Result<Mutation, String> {
    match super::fast_line::parse(line) {
        Some(mutation) => Ok(mutation),
        None => parse_general(line),
    }
}

/// [`parse_mutation`] for any line, through serde; the fast path's reference.
pub(super) fn parse_general(line: &str) -> Result<Mutation, String> {
    let parsed: Line = serde_json::from_str(line).map_err(|e| describe(&e, line))?;
    let key = parsed.key.ok_or("missing field `key`")?;
    if key.is_empty() {
        return Err("`key` must be a non-empty string".to_string());
    }
    let op = parsed.op.unwrap_or(Op::Put);
    let value = match op {
        Op::Put => parsed.value,
        Op::Delete => Value::Null,
    };
    Ok(Mutation {
        key: key.into(),
        op,
        value,
        ts: parsed.ts,
        origin: match parsed.origin {
            Some(origin) if origin.is_empty() => {
                return Err("`origin` must be a non-empty string".to_string());
            }
            origin => origin.map(Into::into),
        },
    })
}

/// serde_json's message with "line 1 column N" shortened to "column N".
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(bare) if e.column() > 0 => format!("{bare} at column {}", e.column()),
        Some(bare) => bare.to_string(),
        None => text,
    }
}

/// One line's fields; `key` borrows from the line unless it has escapes.
struct Line<'a> {
    ts: Option<u64>,
    op: Option<Op>,
    key: Option<Cow<'a, str>>,
    value: Value,
    origin: Option<Cow<'a, str>>,
}

const FIELDS: &[&str] = &["ts", "op", "key", "value", "origin"];

impl<'de> Deserialize<'de> for Line<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Line<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with `key` and optional `ts`, `op`, `value`, `origin`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line<'de>, A::Error> {
        let mut line = Line {
            ts: None,
            op: None,
            key: None,
            value: Value::Null,
            origin: None,
        };
        let mut seen = [false; 5];
        while let Some(field) = map.next_key::<Str<'de>>()? {
            let index = FIELDS
                .iter()
                .position(|f| *f == field.0)
                .ok_or_else(|| de::Error::unknown_field(&field.0, FIELDS))?;
            if std::mem::replace(&mut seen[index], true) {
                return Err(de::Error::duplicate_field(FIELDS[index]));
            }
            match index {
                0 => line.ts = map.next_value::<Ts>()?.0,
                1 => line.op = Some(map.next_value::<OpName>()?.0),
                2 => line.key = Some(map.next_value::<Str<'de>>()?.0),
                4 => line.origin = Some(map.next_value::<Str<'de>>()?.0),
                _ => line.value = map.next_value::<JsonValue>()?.0,
            }
        }
        Ok(line)
    }
}

/// A string that borrows from the input when it can.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// `ts`: a non-negative integer, or `null`.
struct Ts(Option<u64>);

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`ts` as a non-negative integer of milliseconds")
            }
            fn visit_unit<E>(self) -> Result<Ts, E> {
                Ok(Ts(None))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                if v > MAX_EVENT_TS {
                    return Err(E::custom(format!(
                        "`ts` {v} is out of range: event times are {}",
                        event_time_range()
                    )));
                }
                Ok(Ts(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ts, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `op`: `put`, `insert`, `update` or `delete`.
struct OpName(Op);

impl<'de> Deserialize<'de> for OpName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OpName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`op` as one of \"put\", \"insert\", \"update\", \"delete\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OpName, E> {
                match v {
                    "put" | "insert" | "update" => Ok(OpName(Op::Put)),
                    "delete" => Ok(OpName(Op::Delete)),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Reads JSON Lines, yielding `(line number, mutation)` and skipping blank lines.
///
/// A read error is reported once, as a [`LineError`] on the line being read, and ends the
/// iteration; a parse error does not.
pub struct JsonlReader<R: BufRead> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(reader: R) -> Self {
        JsonlReader {
            reader,
            buf: Vec::with_capacity(256),
            line: 0,
            done: false,
        }
    }

    /// The number of lines read so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.line
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<(u64, Mutation), LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    if let Some(result) = parse_line(self.line, &self.buf) {
                        return Some(result);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(read_error(self.line + 1, &e)));
                }
            }
        }
        None
    }
}

/// The line numbered `line` (1-based; its `\n` may still end it) as a mutation, or `None` for
/// a blank line. CRLF ends and a byte order mark on line 1 are accepted.
pub fn parse_line(line: u64, raw: &[u8]) -> Option<Result<(u64, Mutation), LineError>> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let raw = match line {
        1 => raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw),
        _ => raw,
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let error = |message: String, (text, cut_from): (String, Option<usize>)| LineError {
        line,
        message,
        text,
        cut_from,
    };
    if let Some(mutation) = super::fast_line::parse_bytes(raw) {
        return Some(Ok((line, mutation)));
    }
    let result = match std::str::from_utf8(raw) {
        Ok(text) => parse_general(text)
            .map(|m| (line, m))
            .map_err(|message| error(message, truncate(text, raw.len()))),
        Err(e) => {
            let text = String::from_utf8_lossy(raw);
            let message = format!(
                "not valid JSON (invalid UTF-8 at byte {}): {}",
                e.valid_up_to(),
                quoted_start(&text)
            );
            Err(error(message, truncate(&text, raw.len())))
        }
    };
    Some(result)
}

/// The error of a read that failed before line `line` was whole.
pub fn read_error(line: u64, e: &std::io::Error) -> LineError {
    LineError {
        line,
        message: format!("read error: {e}"),
        text: String::new(),
        cut_from: None,
    }
}

/// Appends `m` as one line, the exact inverse of [`parse_mutation`]:
/// `{"ts":..,"op":"put","key":"..","value":..}\n`, `ts` omitted when `None`, and no `value`
/// for a delete.
pub fn write_mutation(m: &Mutation, out: &mut String) {
    out.push('{');
    if let Some(ts) = m.ts {
        let _ = write!(out, "\"ts\":{ts},");
    }
    out.push_str(match m.op {
        Op::Put => "\"op\":\"put\",\"key\":",
        Op::Delete => "\"op\":\"delete\",\"key\":",
    });
    write_json_string(&m.key, out);
    if m.op == Op::Put {
        out.push_str(",\"value\":");
        m.value.write_json(out);
    }
    if let Some(origin) = &m.origin {
        out.push_str(",\"origin\":");
        write_json_string(origin, out);
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::F64;
    use crate::workload::rng::Rng;
    use std::collections::BTreeMap;

    fn ok(line: &str) -> Mutation {
        parse_mutation(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(line: &str) -> String {
        parse_mutation(line).unwrap_err()
    }

    #[test]
    fn parses_each_shape() {
        let m =
            ok(r#"{"ts": 1700000000123, "op": "put", "key": "user_17", "value": {"a": [1, 2.5]}}"#);
        assert_eq!(&*m.key, "user_17");
        assert_eq!((m.op, m.ts), (Op::Put, Some(1_700_000_000_123)));
        assert_eq!(m.value.to_json_string(), r#"{"a":[1,2.5]}"#);
        let m = ok(r#"{"key":"k"}"#);
        assert_eq!((m.op, m.ts, m.value), (Op::Put, None, Value::Null));
        assert_eq!(ok(r#"{"key":"k","op":"insert","value":1}"#).op, Op::Put);
        assert_eq!(
            ok(r#"{"key":"k","op":"update","value":1}"#).value,
            Value::Int(1)
        );
        let m = ok(r#" {"op":"delete","key":"k","value":{"x":1},"ts":null} "#);
        assert_eq!((m.op, m.value, m.ts), (Op::Delete, Value::Null, None));
        assert_eq!(ok(r#"{"key":"a\"\u00e9\n"}"#).key.as_ref(), "a\"é\n");
        assert_eq!(ok(r#"{"key":"k","ts":0}"#).ts, Some(0));
        assert_eq!(
            ok(r#"{"key":"k","ts":253402300799999}"#).ts,
            Some(MAX_EVENT_TS)
        );
    }

    #[test]
    fn reports_each_error() {
        let cases = [
            (
                r#"{"key": "k""#,
                r#"not valid JSON (EOF while parsing an object at column 11): "{\"key\": \"k\"""#,
            ),
            ("not json", r#"not a JSON object: "not json""#),
            (r#"{"op": "put"}"#, "missing field `key`"),
            (r#"{"key": ""}"#, "`key` must be a non-empty string"),
            (
                r#"{"key": 5}"#,
                "invalid type: integer `5`, expected a string at column 9",
            ),
            (
                r#"{"key": "k", "op": "upsert"}"#,
                r#"invalid value: string "upsert", expected `op` as one of "put""#,
            ),
            (
                r#"{"key": "k", "ts": -5}"#,
                "invalid value: integer `-5`, expected `ts` as a non-negative",
            ),
            (
                r#"{"key": "k", "ts": 1.5}"#,
                "invalid type: floating point `1.5`, expected `ts`",
            ),
            (
                r#"{"key": "k", "ts": 1e30}"#,
                "invalid type: floating point",
            ),
            (r#"{"key": "k", "ts": "5"}"#, r#"invalid type: string "5""#),
            (
                r#"{"key": "k", "ts": 18446744073709551615}"#,
                "`ts` 18446744073709551615 is out of range: event times are 0..=253402300799999 ms \
                 (the epoch through 9999-12-31T23:59:59.999Z)",
            ),
            (
                r#"{"key": "k", "ts": 253402300800000}"#,
                "`ts` 253402300800000 is out of range",
            ),
            (
                r#"{"key": "k", "ts": 9223372036854775807}"#,
                "`ts` 9223372036854775807 is out of range",
            ),
            (
                r#"{"key": "k", "valeu": 1}"#,
                "unknown field `valeu`, expected one of `ts`, `op`, `key`, `value`, `origin`",
            ),
            (r#"{"key": "k", "key": "j"}"#, "duplicate field `key`"),
            (
                r#"{"key": "k"} x"#,
                "not valid JSON (trailing characters at column 14)",
            ),
            (r#"["k"]"#, "invalid type: sequence, expected a JSON object"),
            (
                r#"{"key": "k", "value": 1e999}"#,
                "not valid JSON (number out of range",
            ),
            ("", r#"not a JSON object: """#),
        ];
        for (line, want) in cases {
            let got = err(line);
            assert!(got.starts_with(want), "{line}: got {got:?}, want {want:?}");
        }
        let deep = format!(r#"{{"key":"k","value":{}}}"#, "[".repeat(50_000));
        assert!(err(&deep).contains("recursion limit"));
    }

    #[test]
    fn a_line_that_is_not_json_is_named_so_with_its_start() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"hello world, this line is plain text and goes on for a while",
                r#"not a JSON object: "hello world, this line is plain text and…""#,
            ),
            (
                b"{\"ts\":1,\"key\":\"a\",\"value\":{\"n\":",
                r#"not valid JSON (EOF while parsing a value at column 31): "{\"ts\":1,\"key\":\"a\",\"value\":{\"n\":""#,
            ),
            (
                b"\x00\x01\x1b[31mred",
                r#"not a JSON object: "\0\u{1}\u{1b}[31mred""#,
            ),
            (
                b"\x89PNG\r\n\x1a\n\x00\x00",
                r#"not valid JSON (invalid UTF-8 at byte 0): "�PNG""#,
            ),
            (b"<html>", r#"not a JSON object: "<html>""#),
            (
                b"{'key': 'a'}",
                r#"not valid JSON (key must be a string at column 2): "{'key': 'a'}""#,
            ),
        ];
        for (line, want) in cases {
            let mut input = line.to_vec();
            input.push(b'\n');
            let got = JsonlReader::new(&input[..]).next().unwrap().unwrap_err();
            assert_eq!(got.message, want, "{line:?}");
        }
        let e = JsonlReader::new(&b"{\"key\":\"k\"}\nplain\n"[..])
            .nth(1)
            .unwrap();
        assert_eq!(
            e.unwrap_err().to_string(),
            r#"line 2: not a JSON object: "plain""#
        );
    }

    #[test]
    fn reader_numbers_lines_and_keeps_going() {
        let mut input = b"\n{\"key\":\"a\"}\r\n  \n{\"key\":}\n".to_vec();
        input.extend_from_slice(b"{\"key\":\"\xff\"}\n\n{\"op\":\"delete\",\"key\":\"b\"}");
        let items: Vec<_> = JsonlReader::new(&input[..]).collect();
        assert_eq!(items.len(), 4);
        let bom = "\u{feff}{\"key\":\"a\"}\n\u{feff}{\"key\":\"b\"}";
        let bom: Vec<_> = JsonlReader::new(bom.as_bytes()).collect();
        assert!(bom[0].is_ok() && bom[1].is_err());
        assert_eq!(items[0].as_ref().unwrap().0, 2);
        assert_eq!(&*items[0].as_ref().unwrap().1.key, "a");
        let e = items[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.text.as_str()), (4, "{\"key\":}"));
        assert_eq!(
            e.message,
            r#"not valid JSON (expected value at column 8): "{\"key\":}""#
        );
        let e = items[2].as_ref().unwrap_err();
        assert_eq!(e.line, 5);
        assert_eq!(
            e.message,
            r#"not valid JSON (invalid UTF-8 at byte 8): "{\"key\":\"�\"}""#
        );
        assert_eq!(e.text, "{\"key\":\"\u{fffd}\"}");
        assert_eq!(items[3].as_ref().unwrap().0, 7);
        assert_eq!(items[3].as_ref().unwrap().1.op, Op::Delete);
        let long = format!("{}\n", "é".repeat(5000));
        let e = JsonlReader::new(long.as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.text.chars().count(), 1000);
        assert_eq!(e.cut_from, Some(10_000));
    }

    #[test]
    fn a_bad_line_record_says_when_its_text_was_cut() {
        let record = |input: &str| {
            let e = JsonlReader::new(input.as_bytes())
                .next()
                .unwrap()
                .unwrap_err();
            let mut line = String::new();
            e.write_json(&mut line);
            line
        };
        assert_eq!(
            record("{\"key\":}\n"),
            r#"{"line":1,"error":"not valid JSON (expected value at column 8): \"{\\\"key\\\":}\"","text":"{\"key\":}"}"#
                .to_string()
                + "\n"
        );
        let whole = format!("{}\n", "x".repeat(1000));
        assert!(!record(&whole).contains("truncated"));
        let long = format!("{}\n", "x".repeat(1001));
        let cut = record(&long);
        assert!(
            cut.ends_with(&format!(
                "{}\",\"truncated\":true,\"bytes\":1001}}\n",
                "x".repeat(1000)
            )),
            "{cut}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&cut).unwrap();
        assert_eq!(parsed["text"].as_str().unwrap().len(), 1000);
    }

    fn random_string(rng: &mut Rng) -> String {
        const CHARS: [char; 10] = [
            'a', 'z', '"', '\\', '\n', '\u{1}', '\u{7f}', 'é', '中', '😀',
        ];
        (0..rng.below(6)).map(|_| *rng.pick(&CHARS)).collect()
    }

    fn random_value(rng: &mut Rng, depth: u32) -> Value {
        match rng.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.percent(50)),
            2 => {
                let any = rng.next_u64() as i64;
                Value::Int(*rng.pick(&[0, -1, i64::MIN, i64::MAX, any]))
            }
            // Floats with short exact decimal forms, and integral ones below 1e15.
            3 => Value::Float(F64((rng.below(1 << 40) as f64 - (1u64 << 39) as f64) / 8.0)),
            4 => Value::from(random_string(rng)),
            5 => Value::list(
                (0..rng.below(4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::map(
                (0..rng.below(4))
                    .map(|_| (random_string(rng), random_value(rng, depth + 1)))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    #[test]
    fn write_then_parse_round_trips() {
        let mut rng = Rng::new(3, 0);
        let mut text = String::new();
        let mut written = Vec::new();
        for _ in 0..2000 {
            let mut key = random_string(&mut rng);
            key.push('k');
            let delete = rng.percent(20);
            let m = Mutation {
                key: key.into(),
                op: if delete { Op::Delete } else { Op::Put },
                value: if delete {
                    Value::Null
                } else {
                    random_value(&mut rng, 0)
                },
                ts: rng.percent(80).then(|| rng.next_u64() % (MAX_EVENT_TS + 1)),
                origin: rng
                    .percent(30)
                    .then(|| format!("node{}", rng.below(3)).into()),
            };
            let mut line = String::new();
            write_mutation(&m, &mut line);
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert_eq!(parse_mutation(&line), Ok(m.clone()), "{line}");
            text.push_str(&line);
            written.push(m);
        }
        let read: Vec<Mutation> = JsonlReader::new(text.as_bytes())
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(read, written);
        let mut line = String::new();
        write_mutation(&Mutation::delete("k", 5), &mut line);
        assert_eq!(line, "{\"ts\":5,\"op\":\"delete\",\"key\":\"k\"}\n");
    }
}
