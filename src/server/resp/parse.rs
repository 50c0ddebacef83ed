//! Parsing requests out of a connection's read buffer, with Redis's limits and error texts.
//!
//! [`parse_frame`] looks at the unread part of the buffer and returns one complete request
//! (as byte ranges into the buffer, so arguments are never copied), `None` when more bytes
//! are needed, or a [`ProtocolError`] whose text is the one `redis-server` sends. After a
//! protocol error the stream cannot be resynchronised: the connection answers the error and
//! closes. No length read from the network is trusted for an allocation: a bulk of 500 MB
//! claimed in a 20-byte packet allocates nothing until the bytes arrive.
//!
//! Decision — a client that has not authenticated (with `--requirepass`) gets Redis's
//! tighter limits ([`parse_frame_unauthenticated`]): at most 10 arguments of at most
//! 16 KiB, else `unauthenticated multibulk length` / `unauthenticated bulk length` and the
//! connection closes. The connection checks the request that waits for more bytes after
//! each read, so a client that never authenticates makes the server hold one read beyond
//! these limits at most, however large a length it declares; its unwritten replies are
//! capped too ([`UNAUTHENTICATED_MAX_UNWRITTEN`]), or one that never reads its `NOAUTH`
//! errors would fill the output and then the query buffer.

use std::ops::Range;

/// Longest inline request or length line without a newline (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// Most arguments in a request of a client that has not authenticated (Redis's).
pub const UNAUTHENTICATED_MAX_ARRAY: i64 = 10;
/// Largest bulk string of a client that has not authenticated (Redis's).
pub const UNAUTHENTICATED_MAX_BULK: i64 = 16 << 10;
/// Most unwritten reply bytes of a client that has not authenticated before it is closed.
pub const UNAUTHENTICATED_MAX_UNWRITTEN: usize = 1 << 20;

/// Per-connection protocol limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Most arguments in one request.
    pub max_array: usize,
    /// Most unparsed bytes a client may have buffered (`client-query-buffer-limit`).
    pub max_query_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 << 20,
            max_array: 1 << 20,
            max_query_buffer: 1 << 30,
        }
    }
}

/// A protocol error: the message Redis sends (without the leading `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(detail: impl std::fmt::Display) -> ProtocolError {
        ProtocolError(format!("ERR Protocol error: {detail}"))
    }
}

/// One request: its arguments as ranges of the buffer, and how many bytes it took.
#[derive(Debug, Default)]
pub struct Frame {
    pub args: Vec<Range<usize>>,
    pub consumed: usize,
}

/// Parses the request at the start of `buf` into `frame` (cleared first). `Ok(false)`: the
/// request is not complete yet. An empty request (a blank inline line, `*0`) yields a frame
/// with no arguments, which the caller skips.
pub fn parse_frame(buf: &[u8], limits: &Limits, frame: &mut Frame) -> Result<bool, ProtocolError> {
    parse_with(buf, limits, false, frame)
}

/// [`parse_frame`] for a client that has not authenticated: a request may declare no more
/// than Redis allows before `AUTH` (see the module doc), checked as soon as each length
/// arrives.
pub fn parse_frame_unauthenticated(
    buf: &[u8],
    limits: &Limits,
    frame: &mut Frame,
) -> Result<bool, ProtocolError> {
    parse_with(buf, limits, true, frame)
}

fn parse_with(
    buf: &[u8],
    limits: &Limits,
    unauthenticated: bool,
    frame: &mut Frame,
) -> Result<bool, ProtocolError> {
    frame.args.clear();
    frame.consumed = 0;
    match buf.first() {
        None => Ok(false),
        Some(b'*') => parse_multibulk(buf, limits, unauthenticated, frame),
        Some(_) => parse_inline(buf, frame),
    }
}

/// Finds `\r\n` at or after `from`; returns the index of `\r`.
fn line_end(buf: &[u8], mut from: usize) -> Option<usize> {
    // NB: length lines are a few bytes; memchr for `\r` beats a substring search there.
    loop {
        let cr = from + memchr::memchr(b'\r', &buf[from..])?;
        match buf.get(cr + 1) {
            Some(b'\n') => return Some(cr),
            Some(_) => from = cr + 1,
            None => return None,
        }
    }
}

/// Parses a signed decimal the way Redis's `string2ll` does (no `+`, no spaces).
fn parse_len(digits: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.is_empty() || text.starts_with('+') || text.len() > 20 {
        return None;
    }
    text.parse().ok()
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    unauthenticated: bool,
    frame: &mut Frame,
) -> Result<bool, ProtocolError> {
    let Some(end) = line_end(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big mbulk count string"));
        }
        return Ok(false);
    };
    let count = parse_len(&buf[1..end])
        .filter(|n| *n <= limits.max_array as i64)
        .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
    if unauthenticated && count > UNAUTHENTICATED_MAX_ARRAY {
        return Err(ProtocolError::new("unauthenticated multibulk length"));
    }
    let mut pos = end + 2;
    for _ in 0..count.max(0) {
        let Some(&first) = buf.get(pos) else {
            return Ok(false);
        };
        if first != b'$' {
            return Err(ProtocolError::new(format_args!(
                "expected '$', got '{}'",
                first as char
            )));
        }
        let Some(end) = line_end(buf, pos + 1) else {
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            return Ok(false);
        };
        let len = parse_len(&buf[pos + 1..end])
            .filter(|n| *n >= 0 && *n <= limits.max_bulk as i64)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
        if unauthenticated && len > UNAUTHENTICATED_MAX_BULK {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        let len = len as usize;
        let start = end + 2;
        if buf.len() < start + len + 2 {
            return Ok(false);
        }
        frame.args.push(start..start + len);
        pos = start + len + 2;
    }
    frame.consumed = pos;
    Ok(true)
}

fn parse_inline(buf: &[u8], frame: &mut Frame) -> Result<bool, ProtocolError> {
    let Some(newline) = memchr::memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(false);
    };
    let line_len = if newline > 0 && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    split_inline(&buf[..line_len], &mut frame.args)?;
    frame.consumed = newline + 1;
    Ok(true)
}

/// Splits an inline line into arguments. Quoted arguments (`"a b"`, `'c'`) are returned
/// without their quotes; escapes inside them are not interpreted (a documented difference
/// from `redis-cli`'s own parser, which clients never need: they send arrays).
fn split_inline(line: &[u8], args: &mut Vec<Range<usize>>) -> Result<(), ProtocolError> {
    let mut i = 0;
    while i < line.len() {
        if line[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if line[i] == b'"' || line[i] == b'\'' {
            let quote = line[i];
            let close = memchr::memchr(quote, &line[i + 1..])
                .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
            let after = i + 1 + close + 1;
            if after < line.len() && !line[after].is_ascii_whitespace() {
                return Err(ProtocolError::new("unbalanced quotes in request"));
            }
            args.push(i + 1..i + 1 + close);
            i = after;
            continue;
        }
        let start = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        args.push(start..i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::rng::Rng;

    fn parse(buf: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let mut frame = Frame::default();
        let done = parse_frame(buf, &Limits::default(), &mut frame)?;
        Ok(done.then(|| frame.args.iter().map(|r| buf[r.clone()].to_vec()).collect()))
    }

    fn args(items: &[&str]) -> Option<Vec<Vec<u8>>> {
        Some(items.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    #[test]
    fn arrays_and_inline_requests() {
        assert_eq!(
            parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
            Ok(args(&["GET", "k"]))
        );
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n"), Ok(None));
        assert_eq!(parse(b"SET a 'b c'\r\n"), Ok(args(&["SET", "a", "b c"])));
        assert_eq!(parse(b"PING\n"), Ok(args(&["PING"])));
        assert_eq!(parse(b"*0\r\n"), Ok(args(&[])));
    }

    #[test]
    fn errors_read_like_redis() {
        let err = |b: &[u8]| parse(b).unwrap_err().0;
        assert_eq!(
            err(b"*1\r\n+x\r\n"),
            "ERR Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            err(b"*abc\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*1\r\n$-5\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$99999999999\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"SET a \"b\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(err(&long), "ERR Protocol error: too big inline request");
    }

    #[test]
    fn unauthenticated_requests_are_small() {
        let check = |buf: &[u8]| {
            parse_frame_unauthenticated(buf, &Limits::default(), &mut Frame::default())
                .map_err(|e| e.0)
        };
        assert_eq!(
            check(b"*11\r\n"),
            Err("ERR Protocol error: unauthenticated multibulk length".into())
        );
        assert_eq!(
            check(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$100000000\r\n"),
            Err("ERR Protocol error: unauthenticated bulk length".into())
        );
        assert_eq!(check(b"*2\r\n$4\r\nAUTH\r\n$16384\r\n"), Ok(false));
        assert_eq!(check(b"*10\r\n"), Ok(false));
        assert_eq!(
            check(b"*x\r\n"),
            Err("ERR Protocol error: invalid multibulk length".into())
        );
    }

    /// Seeded random bytes, random truncations and mutations of valid frames: the parser
    /// must return (never panic), and a frame it accepts must lie inside the buffer.
    #[test]
    fn fuzzed_input_never_panics() {
        let mut rng = Rng::new(6, 0);
        let valid: &[&[u8]] = &[
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"GET key\r\n",
            b"*2\r\n$-1\r\n",
        ];
        let limits = Limits {
            max_bulk: 1 << 20,
            max_array: 1 << 10,
            max_query_buffer: 1 << 20,
        };
        let mut frame = Frame::default();
        for round in 0..200_000u64 {
            let mut buf: Vec<u8> = if round % 2 == 0 {
                valid[(rng.next_u64() % valid.len() as u64) as usize].to_vec()
            } else {
                Vec::new()
            };
            let extra = rng.next_u64() % 24;
            for _ in 0..extra {
                let byte = match rng.next_u64() % 6 {
                    0 => b'*',
                    1 => b'$',
                    2 => b'\r',
                    3 => b'\n',
                    4 => b'0' + (rng.next_u64() % 10) as u8,
                    _ => rng.next_u64() as u8,
                };
                let at = (rng.next_u64() % (buf.len() as u64 + 1)) as usize;
                buf.insert(at, byte);
            }
            let cut = (rng.next_u64() % (buf.len() as u64 + 1)) as usize;
            buf.truncate(cut);
            if let Ok(true) = parse_frame(&buf, &limits, &mut frame) {
                assert!(frame.consumed <= buf.len());
                assert!(frame.args.iter().all(|r| r.end <= frame.consumed));
            }
        }
    }
}
