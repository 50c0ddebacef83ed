//! Record framing and the payload of one logged mutation.
//!
//! A frame is a 12-byte header followed by the payload:
//!
//! ```text
//! offset  size  field
//! 0       4     payload length, u32 little-endian (at most MAX_PAYLOAD)
//! 4       4     CRC32C of the payload, u32 little-endian
//! 8       4     CRC32C of bytes 0..8 (the header check), u32 little-endian
//! 12      len   payload
//! ```
//!
//! The header has its own checksum so that a damaged length is told apart from a torn write:
//! a valid header whose payload runs past the end of the file is a torn tail; a header whose
//! check fails is corruption (unless everything from there to the end is zeros, which is how
//! a file system shows an extended but unwritten tail).
//!
//! The payload of a logged mutation (version 1), everything needed to replay it exactly:
//!
//! ```text
//! 1 byte   version (1)
//! 8 bytes  seq       position of the mutation in its source (u64 LE)
//! 8 bytes  time      the timely time (batch stamp) it was applied at
//! 8 bytes  ts        its event time
//! 8 bytes  max_seen  the largest ts seen before it (lateness)
//! 1 byte   op        0 = put, 1 = delete
//! 4 bytes  key length (u32 LE), then the key in UTF-8
//! rest     the value as compact JSON text
//! ```
//!
//! Version 2 is version 1 with the mutation's origin node (see `Mutation::origin`) between the
//! key and the value: 2 bytes origin length (u16 LE), then the origin in UTF-8. It is written
//! only for a mutation that has an origin, so a log of local writes keeps the version 1 bytes.
//!
//! Version 3, the one written now, always has the origin field (length 0: no origin) and
//! holds the value in the binary form of [`value_codec`](super::value_codec) instead of JSON
//! text (see there why). Versions 1 and 2 are still read.

use super::value_codec::{decode_value, encode_value};
use crate::change::{Mutation, Op};
use crate::store::Ingest;
use crate::value::Value;
use crate::value::json::parse_value;

/// Bytes before a frame's payload.
pub const HEADER_LEN: usize = 12;
/// The largest payload a frame may claim (a sanity bound for damaged lengths).
pub const MAX_PAYLOAD: usize = 64 << 20;
const VERSION: u8 = 1;
const VERSION_WITH_ORIGIN: u8 = 2;
const VERSION_BINARY: u8 = 3;
const FIXED_LEN: usize = 1 + 8 * 4 + 1 + 4;

/// One logged mutation: an [`Ingest`] and the timely time it was applied at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub time: u64,
    pub ts: u64,
    pub max_seen: u64,
    pub op: Op,
    pub key: std::sync::Arc<str>,
    pub value: Value,
    /// The node the mutation was first made on (`None`: this node).
    pub origin: Option<std::sync::Arc<str>>,
}

impl LogRecord {
    pub fn from_ingest(ingest: &Ingest, time: u64) -> LogRecord {
        LogRecord {
            seq: ingest.seq,
            time,
            ts: ingest.ts,
            max_seen: ingest.max_seen,
            op: ingest.mutation.op,
            key: ingest.mutation.key.clone(),
            value: ingest.mutation.value.clone(),
            origin: ingest.mutation.origin.clone(),
        }
    }

    /// The ingest this record replays (its time is `self.time`).
    pub fn to_ingest(&self) -> Ingest {
        Ingest {
            seq: self.seq,
            max_seen: self.max_seen,
            ts: self.ts,
            mutation: Mutation {
                key: self.key.clone(),
                op: self.op,
                value: self.value.clone(),
                ts: Some(self.ts),
                origin: self.origin.clone(),
            },
            route: super::super::shard::ROUTE_BY_KEY,
        }
    }

    /// Appends this record's frame (header and payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_LEN]);
        out.push(VERSION_BINARY);
        for field in [self.seq, self.time, self.ts, self.max_seen] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.push(match self.op {
            Op::Put => 0,
            Op::Delete => 1,
        });
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        let origin = self
            .origin
            .as_deref()
            .filter(|o| o.len() <= u16::MAX as usize)
            .unwrap_or("");
        out.extend_from_slice(&(origin.len() as u16).to_le_bytes());
        out.extend_from_slice(origin.as_bytes());
        encode_value(&self.value, out);
        seal_frame(&mut out[start..]);
    }

    /// Decodes a payload whose checksum has been verified.
    pub fn decode(payload: &[u8]) -> Result<LogRecord, String> {
        if payload.len() < FIXED_LEN {
            return Err(format!("payload of {} bytes is too short", payload.len()));
        }
        let version = payload[0];
        if !matches!(version, VERSION | VERSION_WITH_ORIGIN | VERSION_BINARY) {
            return Err(format!("unknown record version {version}"));
        }
        let word = |i: usize| u64::from_le_bytes(fixed(&payload[1 + 8 * i..9 + 8 * i]));
        let op = match payload[33] {
            0 => Op::Put,
            1 => Op::Delete,
            other => return Err(format!("unknown op {other}")),
        };
        let key_len = u32::from_le_bytes(fixed(&payload[34..38])) as usize;
        let rest = &payload[FIXED_LEN..];
        if key_len > rest.len() {
            return Err(format!("key length {key_len} runs past the payload"));
        }
        let (key, rest) = rest.split_at(key_len);
        let key = std::str::from_utf8(key).map_err(|e| format!("key is not UTF-8: {e}"))?;
        let (origin, value) = match version {
            VERSION => (None, rest),
            _ => split_origin(rest)?,
        };
        let value = match version {
            VERSION_BINARY => decode_value(value)?,
            _ => {
                let text =
                    std::str::from_utf8(value).map_err(|e| format!("value is not UTF-8: {e}"))?;
                parse_value(text).map_err(|e| format!("value is not JSON: {e}"))?
            }
        };
        Ok(LogRecord {
            seq: word(0),
            time: word(1),
            ts: word(2),
            max_seen: word(3),
            op,
            key: key.into(),
            value,
            origin,
        })
    }
}

/// Splits a version 2 or 3 payload's origin (u16 length, UTF-8) from the value after it.
fn split_origin(rest: &[u8]) -> Result<(Option<std::sync::Arc<str>>, &[u8]), String> {
    if rest.len() < 2 {
        return Err("origin length runs past the payload".to_string());
    }
    let len = u16::from_le_bytes(fixed(&rest[..2])) as usize;
    let rest = &rest[2..];
    if len > rest.len() {
        return Err(format!("origin length {len} runs past the payload"));
    }
    let (origin, value) = rest.split_at(len);
    let origin = std::str::from_utf8(origin).map_err(|e| format!("origin is not UTF-8: {e}"))?;
    Ok(((!origin.is_empty()).then(|| origin.into()), value))
}

/// Copies a slice of known length into an array (the callers slice exact lengths).
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// Fills in the header of a frame whose payload follows its (zeroed) header.
pub fn seal_frame(frame: &mut [u8]) {
    let (header, payload) = frame.split_at_mut(HEADER_LEN);
    header[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[4..8].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let check = crc32c::crc32c(&header[0..8]);
    header[8..12].copy_from_slice(&check.to_le_bytes());
}

/// Appends a frame around an arbitrary payload.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(payload);
    seal_frame(&mut out[start..]);
}

/// What the bytes at some offset of a log hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole frame with a valid header and payload: its payload length.
    Complete(usize),
    /// Fewer bytes than the header, or a valid header whose payload runs past the end.
    Incomplete,
    /// The header check failed (or the length is absurd).
    BadHeader,
    /// A whole frame whose payload checksum failed: its payload length.
    BadPayload(usize),
}

/// Classifies the frame that starts at `bytes[0]` (`bytes` runs to the end of the file).
pub fn check_frame(bytes: &[u8]) -> Frame {
    if bytes.len() < HEADER_LEN {
        return Frame::Incomplete;
    }
    let len = u32::from_le_bytes(fixed(&bytes[0..4])) as usize;
    let crc = u32::from_le_bytes(fixed(&bytes[4..8]));
    let check = u32::from_le_bytes(fixed(&bytes[8..12]));
    if crc32c::crc32c(&bytes[0..8]) != check || len > MAX_PAYLOAD {
        return Frame::BadHeader;
    }
    let Some(payload) = bytes.get(HEADER_LEN..HEADER_LEN + len) else {
        return Frame::Incomplete;
    };
    if crc32c::crc32c(payload) == crc {
        Frame::Complete(len)
    } else {
        Frame::BadPayload(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogRecord {
        LogRecord {
            seq: 7,
            time: 100,
            ts: 123,
            max_seen: 99,
            op: Op::Put,
            key: "user_é".into(),
            value: Value::parse_json(r#"{"a":[1,2.5,"x"],"b":null}"#).unwrap(),
            origin: None,
        }
    }

    /// A payload as versions 1 (no origin) and 2 (with one) wrote it: JSON value text.
    fn legacy_payload(record: &LogRecord) -> Vec<u8> {
        let mut out = vec![if record.origin.is_some() { 2 } else { 1 }];
        for field in [record.seq, record.time, record.ts, record.max_seen] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.push(0);
        out.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
        out.extend_from_slice(record.key.as_bytes());
        if let Some(origin) = &record.origin {
            out.extend_from_slice(&(origin.len() as u16).to_le_bytes());
            out.extend_from_slice(origin.as_bytes());
        }
        out.extend_from_slice(record.value.to_json_string().as_bytes());
        out
    }

    #[test]
    fn records_are_written_as_version_3_and_every_version_reads_back() {
        let remote = LogRecord {
            origin: Some("node-b".into()),
            ..sample()
        };
        for record in [sample(), remote] {
            let mut out = Vec::new();
            record.encode(&mut out);
            assert_eq!(out[HEADER_LEN], VERSION_BINARY);
            assert_eq!(LogRecord::decode(&out[HEADER_LEN..]).unwrap(), record);
            let legacy = legacy_payload(&record);
            assert_eq!(legacy[0], if record.origin.is_some() { 2 } else { 1 });
            assert_eq!(LogRecord::decode(&legacy).unwrap(), record);
            let mut truncated = out[HEADER_LEN..].to_vec();
            truncated.truncate(FIXED_LEN + record.key.len() + 1);
            assert!(LogRecord::decode(&truncated).is_err());
        }
    }

    #[test]
    fn a_record_round_trips_through_its_frame() {
        let mut out = Vec::new();
        sample().encode(&mut out);
        let Frame::Complete(len) = check_frame(&out) else {
            panic!("frame not complete")
        };
        assert_eq!(len + HEADER_LEN, out.len());
        let decoded = LogRecord::decode(&out[HEADER_LEN..]).unwrap();
        assert_eq!(decoded, sample());
    }

    #[test]
    fn damage_is_classified() {
        let mut out = Vec::new();
        sample().encode(&mut out);
        assert_eq!(check_frame(&out[..out.len() - 1]), Frame::Incomplete);
        assert_eq!(check_frame(&out[..5]), Frame::Incomplete);
        let mut payload_flip = out.clone();
        *payload_flip.last_mut().unwrap() ^= 1;
        assert!(matches!(check_frame(&payload_flip), Frame::BadPayload(_)));
        let mut header_flip = out.clone();
        header_flip[1] ^= 1;
        assert_eq!(check_frame(&header_flip), Frame::BadHeader);
    }
}
