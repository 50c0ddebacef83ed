//! Which groups need a visit at which time, so the session operator touches only the groups
//! whose held-back sessions fall due or whose closed sessions can be released, instead of
//! scanning every group each time the frontier moves (a million groups, thousands of times).
//!
//! A group is filed under the earliest time it needs a visit and remembers that time; filing
//! it again under a later time is skipped (the earlier visit files it anew), filing it under
//! an earlier one leaves the old entry behind as stale, recognised when it comes up because
//! the group no longer remembers that time.
//!
//! Decision: a binary heap of `(time, filing order, group)`, not a map from time to groups: a
//! session's visit times are its own (milliseconds, nearly one per session), so a map made an
//! entry and a vector per filing; the heap makes none. The filing order keeps groups filed
//! under one time in the order they were filed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One filing: ordered by time, then by when it was filed.
struct Entry<G> {
    time: u64,
    order: u64,
    group: G,
}

impl<G> Entry<G> {
    fn key(&self) -> (u64, u64) {
        (self.time, self.order)
    }
}

impl<G> PartialEq for Entry<G> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<G> Eq for Entry<G> {}

impl<G> PartialOrd for Entry<G> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<G> Ord for Entry<G> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Groups (`G`, an id) filed by the time they need a visit.
pub(super) struct Schedule<G> {
    at: BinaryHeap<Reverse<Entry<G>>>,
    filings: u64,
}

impl<G> Default for Schedule<G> {
    fn default() -> Self {
        Schedule {
            at: BinaryHeap::new(),
            filings: 0,
        }
    }
}

impl<G: Copy + 'static> Schedule<G> {
    /// Files `group` for a visit at `time`, unless `filed` (the time it is filed under, kept
    /// by the group) is already no later. Updates `filed`.
    pub(super) fn file(&mut self, group: G, time: u64, filed: &mut Option<u64>) {
        if filed.is_some_and(|f| f <= time) {
            return;
        }
        *filed = Some(time);
        self.filings += 1;
        self.at.push(Reverse(Entry {
            time,
            order: self.filings,
            group,
        }));
    }

    /// Takes every entry filed before `bound`, earliest first (in filing order within a
    /// time), as `(time, group)`.
    pub(super) fn take_before(&mut self, bound: u64) -> impl Iterator<Item = (u64, G)> + use<G> {
        let mut due = Vec::new();
        while let Some(Reverse(entry)) = self.at.peek()
            && entry.time < bound
        {
            due.push((entry.time, entry.group));
            self.at.pop();
        }
        due.into_iter()
    }

    /// The earliest time filed (possibly a stale entry's).
    pub(super) fn first(&self) -> Option<u64> {
        self.at.peek().map(|Reverse(entry)| entry.time)
    }

    pub(super) fn has_before(&self, bound: u64) -> bool {
        self.first().is_some_and(|t| t < bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &'static str) -> &'static str {
        name
    }

    #[test]
    fn a_group_comes_up_once_at_its_earliest_time_and_stale_entries_are_told_apart() {
        let mut schedule = Schedule::default();
        let (mut a, mut b) = (None, None);
        schedule.file(group("a"), 30, &mut a);
        schedule.file(group("a"), 40, &mut a);
        schedule.file(group("a"), 10, &mut a);
        schedule.file(group("b"), 20, &mut b);
        assert_eq!((a, b), (Some(10), Some(20)));
        assert_eq!(schedule.first(), Some(10));
        let taken: Vec<(u64, &str)> = schedule.take_before(31).collect();
        assert_eq!(
            taken,
            vec![(10, group("a")), (20, group("b")), (30, group("a"))]
        );
        // The entry at 30 is stale: `a` remembers 10.
        assert!(!schedule.has_before(u64::MAX));
    }
}
