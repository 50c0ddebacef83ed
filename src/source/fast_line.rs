//! The common shape of an input line, parsed without the general JSON machinery.
//!
//! Nearly every line a producer writes is a flat object of the known fields with plain
//! strings and integers: `{"ts":1700000000123,"op":"put","key":"user_17","value":42}`.
//! Parsing it through serde's visitors cost about 2 200 instructions a line (callgrind, a
//! keyed stream), more than half of ingesting it. This parser walks the bytes once and
//! builds the same [`Mutation`]; anything it is not sure of — an escape, a float, a number
//! near the edge of `i64`, `-0`, an unknown or repeated field, a missing key, a `ts` out of
//! range, deep nesting, trailing text, any malformed byte — makes it answer `None`, and the
//! general parser reads the line (and words its error). So it never decides an error, and
//! where it answers it agrees with the general parser (a test checks both on random and
//! mutated lines).
//!
//! It reads the line's bytes before they are known to be UTF-8 ([`parse_bytes`]): outside
//! strings it takes nothing but ASCII, and each string it keeps is checked on its own, so a
//! line it answers is valid UTF-8 and the whole line need not be checked first.

use crate::change::time::MAX_EVENT_TS;
use crate::change::{Mutation, Op};
use crate::value::{FieldName, Value};

/// Nesting deeper than this is left to the general parser (and its recursion limit).
const MAX_DEPTH: u32 = 32;

/// The mutation on `line` when it has the common shape (see the module docs), else `None`.
pub fn parse(line: &str) -> Option<Mutation> {
    parse_bytes(line.as_bytes())
}

/// [`parse`] for a line not yet known to be UTF-8: `None` for one that is not.
pub fn parse_bytes(line: &[u8]) -> Option<Mutation> {
    let mut cursor = Cursor { bytes: line, at: 0 };
    let fields = cursor.line()?;
    cursor.skip_space();
    if cursor.at != cursor.bytes.len() {
        return None;
    }
    fields.into_mutation()
}

#[derive(Default)]
struct Fields<'a> {
    ts: Option<Option<u64>>,
    op: Option<Op>,
    key: Option<&'a str>,
    value: Option<Value>,
    origin: Option<&'a str>,
}

impl Fields<'_> {
    fn into_mutation(self) -> Option<Mutation> {
        let key = self.key.filter(|k| !k.is_empty())?;
        if self.origin.is_some_and(str::is_empty) {
            return None;
        }
        let op = self.op.unwrap_or(Op::Put);
        let value = match op {
            Op::Put => self.value.unwrap_or(Value::Null),
            Op::Delete => Value::Null,
        };
        Some(Mutation {
            key: key.into(),
            op,
            value,
            ts: self.ts.flatten(),
            origin: self.origin.map(Into::into),
        })
    }
}

/// The fields a line may name.
#[derive(Clone, Copy)]
enum Name {
    Ts,
    Op,
    Key,
    Value,
    Origin,
}

/// Each field's name as a line spells it, quoted.
const NAMES: [(&[u8], Name); 5] = [
    (b"\"ts\"", Name::Ts),
    (b"\"op\"", Name::Op),
    (b"\"key\"", Name::Key),
    (b"\"value\"", Name::Value),
    (b"\"origin\"", Name::Origin),
];

/// The bytes that end a plain string: its closing quote, or an escape or a control
/// character (which make the line the general parser's).
static ENDS_PLAIN_STRING: [bool; 256] = {
    let mut ends = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        ends[byte] = true;
        byte += 1;
    }
    ends[b'"' as usize] = true;
    ends[b'\\' as usize] = true;
    ends
};

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(fields);
        }
        loop {
            let name = self.field_name()?;
            self.expect(b':')?;
            self.skip_space();
            match name {
                Name::Ts if fields.ts.is_none() => fields.ts = Some(self.ts()?),
                Name::Op if fields.op.is_none() => fields.op = Some(self.op()?),
                Name::Key if fields.key.is_none() => fields.key = Some(self.plain_string()?),
                Name::Value if fields.value.is_none() => fields.value = Some(self.value(0)?),
                Name::Origin if fields.origin.is_none() => {
                    fields.origin = Some(self.plain_string()?)
                }
                _ => return None,
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Some(fields);
            }
        }
    }

    fn ts(&mut self) -> Option<Option<u64>> {
        if self.literal(b"null") {
            return Some(None);
        }
        let ts = u64::try_from(self.integer()?).ok()?;
        (ts <= MAX_EVENT_TS).then_some(Some(ts))
    }

    fn op(&mut self) -> Option<Op> {
        match self.plain_bytes()? {
            b"put" | b"insert" | b"update" => Some(Op::Put),
            b"delete" => Some(Op::Delete),
            _ => None,
        }
    }

    fn value(&mut self, depth: u32) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        match *self.bytes.get(self.at)? {
            b'"' => self.plain_string().map(Value::from),
            b'{' => self.map(depth),
            b'[' => self.list(depth),
            b'n' => self.literal(b"null").then_some(Value::Null),
            b't' => self.literal(b"true").then_some(Value::Bool(true)),
            b'f' => self.literal(b"false").then_some(Value::Bool(false)),
            _ => self.integer().map(Value::Int),
        }
    }

    fn map(&mut self, depth: u32) -> Option<Value> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        if !self.eat(b'}') {
            loop {
                let name = self.plain_string()?;
                self.expect(b':')?;
                // A repeated name keeps its last value, as the general parser does.
                fields.push((FieldName::from(name), self.value(depth + 1)?));
                if !self.eat(b',') {
                    self.expect(b'}')?;
                    break;
                }
            }
        }
        Some(Value::map(fields))
    }

    fn list(&mut self, depth: u32) -> Option<Value> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value(depth + 1)?);
                if !self.eat(b',') {
                    self.expect(b']')?;
                    break;
                }
            }
        }
        Some(Value::list(items))
    }

    /// The quoted name of a known field, compared as bytes (a name spelled with an escape is
    /// left to the general parser).
    fn field_name(&mut self) -> Option<Name> {
        self.skip_space();
        let rest = self.bytes.get(self.at..)?;
        let &(quoted, name) = NAMES.iter().find(|(quoted, _)| rest.starts_with(quoted))?;
        self.at += quoted.len();
        Some(name)
    }

    /// A string with no escapes and no control characters, valid UTF-8 (a `"` is never
    /// part of a multi-byte character, so the quotes bound its bytes).
    fn plain_string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.plain_bytes()?).ok()
    }

    /// The bytes of a string with no escapes and no control characters, not checked as
    /// UTF-8 (for a string compared with ASCII words).
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        let len = rest
            .iter()
            .position(|b| ENDS_PLAIN_STRING[usize::from(*b)])?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&rest[..len])
    }

    /// An integer of at most 18 digits, no leading zero, no fraction or exponent; `-0` is
    /// left to the general parser (it reads it as a float).
    fn integer(&mut self) -> Option<i64> {
        let negative = self.bytes.get(self.at) == Some(&b'-');
        let start = self.at + usize::from(negative);
        let (mut end, mut magnitude) = (start, 0i64);
        while let Some(digit) = self.bytes.get(end).filter(|b| b.is_ascii_digit()) {
            magnitude = magnitude * 10 + i64::from(digit - b'0');
            end += 1;
            if end - start > 18 {
                return None;
            }
        }
        let digits = end - start;
        let leading_zero = self.bytes.get(start) == Some(&b'0') && (digits > 1 || negative);
        let more = matches!(self.bytes.get(end), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || more {
            return None;
        }
        self.at = end;
        Some(if negative { -magnitude } else { magnitude })
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    fn skip_space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        self.expect_here(byte)
    }

    fn expect_here(&mut self, byte: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }
}

#[cfg(test)]
#[path = "fast_line_tests.rs"]
mod tests;
