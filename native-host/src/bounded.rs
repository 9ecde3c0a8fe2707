//! A set that forgets its oldest members: memory for weeks of polling.
//!
//! The race remembers listings by form action (seen, settled) and the debug
//! page store remembers page shapes. Each of those sets grows with what the
//! shop shows, and a process left running for weeks against a busy
//! marketplace would grow it forever. A [`BoundedSet`] keeps the most
//! recently *inserted* `capacity` members and forgets the oldest one when a
//! new one arrives, so its memory is fixed. Forgetting is harmless for these
//! uses: a listing forgotten after ten thousand newer ones is long gone from
//! the shop, and a forgotten page shape costs at most one more debug file.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// A `HashSet` with a fixed capacity, evicting in insertion order (FIFO).
#[derive(Debug, Clone)]
pub struct BoundedSet<T> {
    members: HashSet<T>,
    /// Insertion order, oldest first; always the same members as `members`.
    order: VecDeque<T>,
    capacity: usize,
}

impl<T: Eq + Hash + Clone> BoundedSet<T> {
    /// An empty set holding at most `capacity` members (at least one).
    pub fn new(capacity: usize) -> Self {
        BoundedSet {
            members: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Add `value`; true if it was not there. When the set is full the
    /// oldest member is forgotten to make room.
    pub fn insert(&mut self, value: T) -> bool {
        if self.members.contains(&value) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
        self.members.insert(value.clone());
        self.order.push_back(value);
        true
    }

    pub fn contains(&self, value: &T) -> bool {
        self.members.contains(value)
    }

    pub fn remove(&mut self, value: &T) -> bool {
        if self.members.remove(value) {
            self.order.retain(|v| v != value);
            true
        } else {
            false
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_and_forgets_the_oldest_first() {
        let mut s = BoundedSet::new(3);
        for i in 0..10 {
            assert!(s.insert(i));
            assert!(s.len() <= 3);
        }
        assert_eq!(s.len(), 3);
        assert!(!s.contains(&6));
        assert!(s.contains(&7) && s.contains(&8) && s.contains(&9));
        // a member already there is not re-inserted and evicts nothing
        assert!(!s.insert(9));
        assert!(s.contains(&7));
    }

    #[test]
    fn removing_frees_a_slot() {
        let mut s = BoundedSet::new(2);
        s.insert("a");
        s.insert("b");
        assert!(s.remove(&"a"));
        assert!(!s.remove(&"a"));
        s.insert("c");
        assert!(s.contains(&"b") && s.contains(&"c"));
        assert_eq!(s.len(), 2);
    }
}
