//! Numeric ids on the GAM: existing objects keep theirs, a new object takes the lowest free one.
//! Ids freed by deletes in the same plan are not reused, since deletes run last.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

pub const PROFILE_IDS: RangeInclusive<u16> = 2..=15;
pub const ENDPOINT_IDS: RangeInclusive<u16> = 1..=384;
pub const SUBSCRIBER_IDS: RangeInclusive<u16> = 1..=384;

/// Hands out the lowest ids of a range that are not taken.
pub struct IdAllocator {
    range: RangeInclusive<u16>,
    taken: BTreeSet<u16>,
    next: u16,
}

impl IdAllocator {
    pub fn new(range: RangeInclusive<u16>, taken: impl IntoIterator<Item = u16>) -> Self {
        IdAllocator {
            next: *range.start(),
            range,
            taken: taken.into_iter().collect(),
        }
    }

    /// The lowest free id, or None when the range is full.
    pub fn allocate(&mut self) -> Option<u16> {
        while self.range.contains(&self.next) {
            let id = self.next;
            self.next += 1;
            if self.taken.insert(id) {
                return Some(id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_first_and_none_when_full() {
        let mut a = IdAllocator::new(2..=5, [2, 4]);
        assert_eq!(a.allocate(), Some(3));
        assert_eq!(a.allocate(), Some(5));
        assert_eq!(a.allocate(), None);
    }
}
