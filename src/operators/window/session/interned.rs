//! Groups interned to small integer ids, so the session operator hashes and compares a
//! group's values once per update: its schedules, its sessions' running totals and its
//! emitted contributions name the group by a [`GroupId`] (two integers) instead of cloning,
//! hashing and comparing the group's row at every step.
//!
//! A group's state lives in a slot of a vector; a slot freed when its group has no session
//! left is reused by a later group under a new generation, so an id kept by a stale schedule
//! entry or a forgotten total never names the group that took the slot over.

use hashbrown::HashTable;

use super::groups::GroupSessions;
use crate::value::row_pool::recycle;
use crate::value::{Row, quick_hash};

/// A group's slot and the generation of the slot when the group took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct GroupId {
    slot: u32,
    generation: u32,
}

struct Slot {
    generation: u32,
    /// The hash of `group` (so removing it hashes and compares nothing).
    hash: u64,
    group: Row,
    state: GroupSessions,
}

/// Every open group, by id and by row. NB: the index by row holds slot numbers, found by the
/// row's hash kept in the slot: a group's row is stored once, hashed once when it comes and
/// never when it goes.
#[derive(Default)]
pub(super) struct Groups {
    by_row: HashTable<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Groups {
    /// The id of `group`, giving it a slot if it has none.
    pub(super) fn intern(&mut self, group: Row) -> GroupId {
        let hash = quick_hash(&group.0);
        let slots = &self.slots;
        let same = |slot: &u32| slots[*slot as usize].group == group;
        if let Some(slot) = self.by_row.find(hash, same) {
            let generation = slots[*slot as usize].generation;
            // NB: the group's buffer becomes a later row's (see `value::row_pool`).
            recycle(group);
            return GroupId {
                slot: *slot,
                generation,
            };
        }
        let id = self.take_slot(hash, group);
        let slots = &self.slots;
        self.by_row
            .insert_unique(hash, id.slot, |slot| slots[*slot as usize].hash);
        id
    }

    /// A free slot (or a new one) holding `group`, under a new generation.
    fn take_slot(&mut self, hash: u64, group: Row) -> GroupId {
        match self.free.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.generation = entry.generation.wrapping_add(1);
                entry.hash = hash;
                entry.group = group;
                GroupId {
                    slot,
                    generation: entry.generation,
                }
            }
            None => {
                // NB: a slot holds a group's row and sessions: memory runs out long before
                // 2^32 of them are open on one worker.
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 open groups");
                self.slots.push(Slot {
                    generation: 0,
                    hash,
                    group,
                    state: GroupSessions::default(),
                });
                GroupId {
                    slot,
                    generation: 0,
                }
            }
        }
    }

    /// The row and state of the group `id` names, unless it was removed since.
    pub(super) fn get_mut(&mut self, id: GroupId) -> Option<(&Row, &mut GroupSessions)> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        (slot.generation == id.generation).then_some((&slot.group, &mut slot.state))
    }

    /// Frees the slot of the group `id` names (its state must be empty).
    pub(super) fn remove(&mut self, id: GroupId) {
        let Some(slot) = self.slots.get_mut(id.slot as usize) else {
            return;
        };
        if slot.generation != id.generation {
            return;
        }
        if let Ok(entry) = self.by_row.find_entry(slot.hash, |s| *s == id.slot) {
            entry.remove();
        }
        slot.group = Row::default();
        slot.state = GroupSessions::default();
        // NB: bumped now, so `get_mut` on the old id fails until the slot is reused.
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.slot);
    }

    pub(super) fn len(&self) -> usize {
        self.by_row.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn group(name: &str) -> Row {
        Row(vec![Value::from(name)])
    }

    #[test]
    fn an_id_outlives_its_group_without_naming_the_group_that_reuses_its_slot() {
        let mut groups = Groups::default();
        let a = groups.intern(group("a"));
        assert_eq!(groups.intern(group("a")), a, "interning is idempotent");
        let b = groups.intern(group("b"));
        assert_ne!(a, b);
        groups.remove(a);
        assert!(groups.get_mut(a).is_none());
        let c = groups.intern(group("c"));
        assert!(groups.get_mut(a).is_none(), "c took a's slot, not its id");
        assert_eq!(
            groups.get_mut(c).map(|(row, _)| row.clone()),
            Some(group("c"))
        );
        assert_eq!(
            groups.get_mut(b).map(|(row, _)| row.clone()),
            Some(group("b"))
        );
        let again = groups.intern(group("a"));
        assert_ne!(again, a);
        assert_eq!(groups.len(), 3);
    }
}
