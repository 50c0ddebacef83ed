//! Sorting a time's updates by row, as a sink writes them (rows in order within a time).
//!
//! Comparing rows field by field was most of a sink's cost in a profile of Nexmark q0:
//! about 1 000 instructions per row to sort times of 4 600 rows, the comparison sort's
//! dozen steps each matching two values' variants. Decision: from [`RADIX_FROM`] updates on,
//! the updates are sorted by each row's [`order_prefix`] (its first fields as 36 bytes that
//! compare as the rows do) with a least-significant-byte radix sort, skipping the byte
//! positions where every row has the same byte, and only runs of rows with equal bytes are
//! then compared whole. The result is the order a comparison sort gives: a prefix never
//! contradicts the rows' order (`value::order`), and ties are broken by the rows themselves.
//! (A most-significant-byte sort, which stops splitting small buckets, was measured too: 4–6%
//! more instructions in the sorts of Nexmark q0 and the table join.)

use crate::value::{OrderPrefix, PREFIX_BYTES, Row, order_prefix};

/// Updates from this many on are radix sorted; fewer are compared directly.
const RADIX_FROM: usize = 256;

/// One update's prefix bytes and its place in the unsorted updates.
#[derive(Clone, Copy)]
struct Keyed {
    key: OrderPrefix,
    at: u32,
}

/// Sorts `updates` by row (equal rows in any order among themselves).
pub fn sort_by_row(updates: &mut Vec<(Row, i64)>) {
    if updates.len() < RADIX_FROM || u32::try_from(updates.len()).is_err() {
        updates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        return;
    }
    let mut keyed: Vec<Keyed> = updates
        .iter()
        .zip(0u32..)
        .map(|((row, _), at)| Keyed {
            key: order_prefix(&row.0),
            at,
        })
        .collect();
    radix_sort(&mut keyed);
    break_ties(&mut keyed, updates);
    let sorted = keyed
        .iter()
        .map(|keyed| std::mem::take(&mut updates[keyed.at as usize]))
        .collect();
    *updates = sorted;
}

/// A stable least-significant-byte radix sort by `key`.
fn radix_sort(items: &mut Vec<Keyed>) {
    let mut counts = vec![[0u32; 256]; PREFIX_BYTES];
    for item in items.iter() {
        for (position, byte) in item.key.iter().enumerate() {
            counts[position][*byte as usize] += 1;
        }
    }
    let total = items.len() as u32;
    let mut scratch = items.clone();
    for position in (0..PREFIX_BYTES).rev() {
        let histogram = &counts[position];
        if histogram.contains(&total) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut sum = 0usize;
        for (slot, count) in next.iter_mut().zip(histogram) {
            *slot = sum;
            sum += *count as usize;
        }
        for item in items.iter() {
            let slot = &mut next[item.key[position] as usize];
            scratch[*slot] = *item;
            *slot += 1;
        }
        std::mem::swap(items, &mut scratch);
    }
}

/// Sorts each run of equal prefix bytes by comparing its rows whole.
fn break_ties(keyed: &mut [Keyed], updates: &[(Row, i64)]) {
    let mut start = 0;
    while start < keyed.len() {
        let key = keyed[start].key;
        let end = start
            + keyed[start..]
                .iter()
                .take_while(|other| other.key == key)
                .count();
        if end - start > 1 {
            keyed[start..end]
                .sort_unstable_by(|a, b| updates[a.at as usize].0.cmp(&updates[b.at as usize].0));
        }
        start = end;
    }
}
