//! The conflating queue behind the market lane: latest value per key, FIFO over keys.
//!
//! A key keeps its place in line when its value is replaced, so a market that ticks
//! constantly cannot push quieter markets back; the consumer always gets the newest
//! value. Bounded by the number of distinct keys.

use std::collections::{HashMap, VecDeque};

/// A conflation key: a named key from the message, or a unique one for messages that
/// asked not to be conflated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Named(String),
    Unique(u64),
}

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed<T> {
    /// A new key was queued.
    Inserted,
    /// The key was queued already; its old value is returned.
    Replaced(T),
    /// The queue was full of other keys; the oldest key's value was evicted.
    Evicted(T),
}

/// Latest value per key, oldest key first.
#[derive(Debug)]
pub(crate) struct ConflatingQueue<T> {
    order: VecDeque<Key>,
    values: HashMap<Key, T>,
    capacity: usize,
}

impl<T> ConflatingQueue<T> {
    pub fn new(capacity: usize) -> Self {
        ConflatingQueue { order: VecDeque::new(), values: HashMap::new(), capacity: capacity.max(1) }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn push(&mut self, key: Key, value: T) -> Pushed<T> {
        if let Some(slot) = self.values.get_mut(&key) {
            return Pushed::Replaced(std::mem::replace(slot, value));
        }
        let mut evicted = None;
        if self.values.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            evicted = self.values.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.values.insert(key, value);
        match evicted {
            Some(v) => Pushed::Evicted(v),
            None => Pushed::Inserted,
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        while let Some(key) = self.order.pop_front() {
            if let Some(v) = self.values.remove(&key) {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key {
        Key::Named(s.to_string())
    }

    #[test]
    fn latest_value_per_key_in_first_seen_order() {
        let mut q = ConflatingQueue::new(8);
        assert_eq!(q.push(k("BTC"), 1), Pushed::Inserted);
        assert_eq!(q.push(k("ETH"), 10), Pushed::Inserted);
        assert_eq!(q.push(k("BTC"), 2), Pushed::Replaced(1));
        assert_eq!(q.push(k("BTC"), 3), Pushed::Replaced(2));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(10));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn full_queue_evicts_the_oldest_key() {
        let mut q = ConflatingQueue::new(2);
        q.push(k("a"), 1);
        q.push(k("b"), 2);
        assert_eq!(q.push(k("c"), 3), Pushed::Evicted(1));
        assert_eq!(q.push(Key::Unique(9), 4), Pushed::Evicted(2));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(4));
    }
}
