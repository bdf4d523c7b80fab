//! The one latest-wins queue: the newest value per key, keys in first-seen order, bounded
//! by the number of distinct keys.
//!
//! Where the consumer needs the newest value and not every one (a pane's ticker queue, the
//! monitor's price per market), a producer faster than its consumer replaces instead of
//! piling up: memory stays bounded by the keys, and the consumer never acts on a value a
//! newer one has already superseded. A replaced key keeps its place in line, so a market
//! that ticks constantly cannot push quieter ones back.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};

/// What a full queue does with a value of a new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Drop the oldest key's value to make room (the newest data matters most).
    EvictOldest,
    /// Refuse the new key (what is waiting must not be lost).
    RefuseNew,
}

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<V> {
    /// A new key was queued.
    Inserted,
    /// The key was queued already; its older value is returned.
    Replaced(V),
    /// The queue was full of other keys; the oldest key's value was dropped and returned.
    Evicted(V),
    /// The queue was full of other keys; the new value was not queued and is returned.
    Refused(V),
}

impl<V> Pushed<V> {
    /// True when a value was replaced, evicted or refused.
    pub(crate) fn lost_one(&self) -> bool {
        !matches!(self, Pushed::Inserted)
    }
}

/// Latest value per key, oldest key first, at most `capacity` keys.
#[derive(Debug, Clone)]
pub(crate) struct LatestByKey<K, V, S = RandomState> {
    order: VecDeque<K>,
    values: HashMap<K, V, S>,
    capacity: usize,
    when_full: WhenFull,
}

impl<K: Hash + Eq + Clone, V> LatestByKey<K, V> {
    /// An empty queue of at most `capacity` keys (at least one).
    pub fn new(capacity: usize, when_full: WhenFull) -> Self {
        Self::with_hasher(capacity, when_full, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher> LatestByKey<K, V, S> {
    /// [`LatestByKey::new`] with a chosen hasher (a fast one on hot paths).
    pub(crate) fn with_hasher(capacity: usize, when_full: WhenFull, hasher: S) -> Self {
        LatestByKey {
            order: VecDeque::new(),
            values: HashMap::with_hasher(hasher),
            capacity: capacity.max(1),
            when_full,
        }
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Queues `value` as the latest of `key`.
    pub fn push(&mut self, key: K, value: V) -> Pushed<V> {
        if let Some(slot) = self.values.get_mut(&key) {
            return Pushed::Replaced(std::mem::replace(slot, value));
        }
        let mut evicted = None;
        if self.values.len() >= self.capacity {
            match self.when_full {
                WhenFull::RefuseNew => return Pushed::Refused(value),
                WhenFull::EvictOldest => {
                    if let Some(oldest) = self.order.pop_front() {
                        evicted = self.values.remove(&oldest);
                    }
                }
            }
        }
        self.order.push_back(key.clone());
        self.values.insert(key, value);
        match evicted {
            Some(v) => Pushed::Evicted(v),
            None => Pushed::Inserted,
        }
    }

    /// Takes the oldest key's latest value.
    pub fn pop(&mut self) -> Option<(K, V)> {
        let key = self.order.pop_front()?;
        let value = self.values.remove(&key)?;
        Some((key, value))
    }

    /// Takes everything, oldest key first.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        std::iter::from_fn(move || self.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_value_per_key_in_first_seen_order() {
        let mut q = LatestByKey::new(8, WhenFull::EvictOldest);
        assert_eq!(q.push("BTC", 1), Pushed::Inserted);
        assert_eq!(q.push("ETH", 10), Pushed::Inserted);
        assert_eq!(q.push("BTC", 2), Pushed::Replaced(1));
        assert_eq!(q.push("BTC", 3), Pushed::Replaced(2));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(("BTC", 3)), "a replaced key keeps its place");
        assert_eq!(q.pop(), Some(("ETH", 10)));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_evicts_the_oldest_key_or_refuses_the_new_one_as_declared() {
        let mut q = LatestByKey::new(2, WhenFull::EvictOldest);
        q.push("a", 1);
        q.push("b", 2);
        assert_eq!(q.push("c", 3), Pushed::Evicted(1));
        assert_eq!(q.push("b", 4), Pushed::Replaced(2), "a queued key is replaced, not evicted");
        assert_eq!(q.drain().collect::<Vec<_>>(), vec![("b", 4), ("c", 3)]);

        let mut q = LatestByKey::new(2, WhenFull::RefuseNew);
        q.push("a", 1);
        q.push("b", 2);
        assert_eq!(q.push("c", 3), Pushed::Refused(3));
        assert_eq!(q.push("a", 5), Pushed::Replaced(1), "a queued key still takes its newest value");
        assert_eq!(q.drain().collect::<Vec<_>>(), vec![("a", 5), ("b", 2)]);
    }
}
