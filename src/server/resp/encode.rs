//! Writing replies into a connection's output buffer, in RESP2 or RESP3.
//!
//! A [`Reply`] borrows the connection's output buffer for one pipeline: every reply of the
//! pipeline is appended to one buffer that is written to the socket once.

/// Appends replies to `out` in the connection's protocol version (2 or 3).
pub struct Reply<'a> {
    pub out: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl Reply<'_> {
    fn line(&mut self, prefix: u8, n: i64) {
        self.out.push(prefix);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, text: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(&mut self, text: &str) {
        self.out.push(b'-');
        for &byte in text.as_bytes() {
            // NB: an error is one line; a newline from user input would break the stream.
            self.out.push(if byte == b'\r' || byte == b'\n' {
                b' '
            } else {
                byte
            });
        }
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, bytes: &[u8]) {
        self.line(b'$', bytes.len() as i64);
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"$-1\r\n");
        }
    }

    /// A missing array (`XREAD` timeout): `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map of `len` pairs: `%` in RESP3, a flat array of `2 * len` in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'%', len as i64);
        } else {
            self.line(b'*', 2 * len as i64);
        }
    }

    /// An out-of-band message (pub/sub): `>` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        self.line(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    /// A verbatim text (INFO): a bulk string in both versions.
    pub fn text(&mut self, text: &str) {
        self.bulk(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_differ_only_where_resp3_has_types() {
        let mut out = Vec::new();
        let mut r2 = Reply {
            out: &mut out,
            resp3: false,
        };
        r2.null();
        r2.map(1);
        r2.bulk(b"a");
        r2.int(-3);
        assert_eq!(out, b"$-1\r\n*2\r\n$1\r\na\r\n:-3\r\n");
        let mut out = Vec::new();
        let mut r3 = Reply {
            out: &mut out,
            resp3: true,
        };
        r3.null();
        r3.map(1);
        r3.error("ERR bad\r\nthing");
        assert_eq!(out, b"_\r\n%1\r\n-ERR bad  thing\r\n");
    }
}
