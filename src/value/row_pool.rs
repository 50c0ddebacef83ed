//! Emptied row buffers kept per thread, so rows are built without allocating.
//!
//! A map step's input row is not needed once its output is built, nor is a row a filter
//! drops, nor a row its consumer has read: its emptied buffer is kept in a pool per thread
//! and becomes a later map output, source row, group key or argument row ([`spare`],
//! [`recycle`]). A source emits a batch of rows before their consumer runs, so the pool
//! holds up to a batch's worth of buffers ([`MAX_SPARES`]).

use std::cell::RefCell;

use super::{Row, Value};

thread_local! {
    /// Emptied row buffers for the next map outputs and source rows (see the module doc).
    static SPARES: RefCell<Vec<Vec<Value>>> = const { RefCell::new(Vec::new()) };
}

/// Rows wider than this are not kept as spares.
const MAX_SPARE: usize = 64;

/// At most this many buffers are kept per thread: a default batch's rows (see
/// `runtime::DEFAULT_BATCH_EVENTS`), at most 64 values each.
const MAX_SPARES: usize = 5_000;

/// An empty row buffer: a spare one, if there is one (see the module doc).
pub fn spare() -> Vec<Value> {
    SPARES.with_borrow_mut(Vec::pop).unwrap_or_default()
}

/// Keeps `row`'s buffer, emptied, for a later map output or source row.
pub fn recycle(row: Row) {
    let mut values = row.0;
    if values.capacity() == 0 || values.capacity() > MAX_SPARE {
        return;
    }
    values.clear();
    SPARES.with_borrow_mut(|spares| {
        if spares.len() < MAX_SPARES {
            spares.push(values);
        }
    });
}
