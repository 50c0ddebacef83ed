//! The Redis serialization protocol: requests in ([`parse`]), replies out ([`encode`]).
//!
//! Requests are arrays of bulk strings (what every client sends) or inline commands (what a
//! person types into `nc`). Replies are written in RESP2 or, after `HELLO 3`, RESP3; the
//! encoder hides the difference (null, maps, pushes).
pub mod encode;
pub mod parse;

pub use encode::Reply;
pub use parse::{Frame, Limits, ProtocolError, parse_frame, parse_frame_unauthenticated};
